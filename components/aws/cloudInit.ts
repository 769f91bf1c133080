// cloud-init user data for the EC2 machines: Docker from Ubuntu's archive, and the ECR credential
// helper so `docker stack deploy --with-registry-auth` on a manager gets a fresh ECR token itself.
import { stringify } from "yaml";

export function cloudInitUserData(ecrRegistry: string, user = "ubuntu"): string {
    const dockerConfig = JSON.stringify({ credHelpers: { [ecrRegistry]: "ecr-login" } });
    return `#cloud-config\n${stringify({
        package_update: true,
        packages: ["docker.io", "amazon-ecr-credential-helper"],
        write_files: [
            { path: `/home/${user}/.docker/config.json`, content: dockerConfig, permissions: "0600", defer: true, owner: `${user}:${user}` },
            { path: "/root/.docker/config.json", content: dockerConfig, permissions: "0600" },
        ],
        runcmd: [
            ["systemctl", "enable", "--now", "docker"],
            ["usermod", "-aG", "docker", user],
        ],
    })}`;
}
