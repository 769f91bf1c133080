// The shape of a Docker stack definition: data that the Compose renderer turns into a file.

/** An image the program builds from the project's sources and ships to the nodes. */
export interface ImageDefinition {
    /** Build context: relative to the project root, or absolute. */
    context: string;
    /** Dockerfile, relative to the context. */
    dockerfile: string;
    /** Files and folders of the context (relative to it) whose content makes the image. */
    inputs: string[];
    /** Run in the context before the build (for example, compile). */
    prepare?: string;
    /** `--build-arg`s besides BASE_IMAGE. */
    buildArgs?: Record<string, string>;
    /** The Dockerfile stage to build. */
    target?: string;
}

export interface HealthCheck {
    test: string[];
    interval: string;
    timeout: string;
    retries: number;
    startPeriod: string;
}

export interface PublishedPort {
    target: number;
    published: number;
}

export interface ServiceDefinition {
    /** Key of `images`. */
    image: string;
    command?: string[];
    /** Default replica count; `replicas` in config overrides it. */
    replicas: number;
    environment?: Record<string, string>;
    /** Node label constraints (`node.labels.X == Y`). */
    constraints?: string[];
    /** A service that publishes ports runs on every edge node (global), published there in host mode. */
    ports?: PublishedPort[];
    /** Named volumes: name -> mount path. A service with volumes is stateful: one task at a time. */
    volumes?: Record<string, string>;
    /** Mount the taxonomy config at this path. */
    taxonomyAt?: string;
    healthcheck: HealthCheck;
    /** Seconds between SIGTERM and SIGKILL. */
    stopGracePeriod: string;
    resources?: { memory: string; cpus?: string };
}

export interface StackDefinition {
    images: Record<string, ImageDefinition>;
    services: Record<string, ServiceDefinition>;
    /** The overlay network every service joins. */
    network: string;
    /** Node label of the edge nodes, where the services that publish ports run. */
    edgeLabel: string;
    /** Node label with a value unique per node: replicated stateless services spread over it. */
    spreadLabel: string;
}
