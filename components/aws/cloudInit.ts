// What an EC2 machine is made with (its cloud-init user data, pinned per machine: see machine()),
// and what is set up on it over SSH afterwards, so that a change of the latter (a project
// upgrade) is applied to the running machines in place instead of making them anew.
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { scriptsIn } from "../shell";

const script = scriptsIn(__dirname);
const renewScript = fs.readFileSync(path.join(__dirname, "scripts", "renew-registry-auth.sh"), "utf8");

/** The login user of Ubuntu's cloud images, in the docker group and with sudo: every step over SSH runs as it. */
export const loginUser = "ubuntu";

/** How often the leader renews the services' registry login: well inside ECR's 12 hours. */
export const registryAuthRenewal = "6h";

/** The first boot: Docker and the ECR credential helper from Ubuntu's archive, the login user in the docker group. Nothing that a project upgrade changes. */
export function cloudInitUserData(user = loginUser): string {
    return `#cloud-config\n${stringify({
        package_update: true,
        packages: ["docker.io", "amazon-ecr-credential-helper"],
        runcmd: [
            ["systemctl", "enable", "--now", "docker"],
            ["usermod", "-aG", "docker", user],
        ],
    })}`;
}

/**
 * Run over SSH on every machine once it has booted, and again in place when it changes: the ECR
 * credential helper as the Docker login of the user and root, and a timer that renews the swarm
 * services' registry login before ECR's 12 hours run out (scripts/registry-login.sh).
 */
export function registryLoginScript(ecrRegistry: string, user = loginUser): string {
    return script("registry-login", {
        LOGIN_USER: user,
        DOCKER_CONFIG_JSON: JSON.stringify({ credHelpers: { [ecrRegistry]: "ecr-login" } }),
        RENEW_SCRIPT: renewScript.trimEnd(),
        RENEW_SERVICE: "[Unit]\nDescription=Renew the swarm services' registry login\nAfter=docker.service\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/swarm-renew-registry-auth",
        RENEW_TIMER: `[Unit]\nDescription=Renew the swarm services' registry login every ${registryAuthRenewal}\n\n[Timer]\nOnBootSec=15min\nOnUnitActiveSec=${registryAuthRenewal}\n\n[Install]\nWantedBy=timers.target`,
    });
}
