// cloud-init user data for the EC2 machines: Docker from Ubuntu's archive, the ECR credential
// helper (so `docker stack deploy --with-registry-auth` on a manager gets a fresh ECR token
// itself), and a timer that renews the swarm's registry login before ECR's 12 hours run out.
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";

const renewScript = fs.readFileSync(path.join(__dirname, "scripts", "renew-registry-auth.sh"), "utf8");

/** How often the leader renews the services' registry login: well inside ECR's 12 hours. */
export const registryAuthRenewal = "6h";

export function cloudInitUserData(ecrRegistry: string, user = "ubuntu"): string {
    const dockerConfig = JSON.stringify({ credHelpers: { [ecrRegistry]: "ecr-login" } });
    return `#cloud-config\n${stringify({
        package_update: true,
        packages: ["docker.io", "amazon-ecr-credential-helper"],
        write_files: [
            { path: `/home/${user}/.docker/config.json`, content: dockerConfig, permissions: "0600", defer: true, owner: `${user}:${user}` },
            { path: "/root/.docker/config.json", content: dockerConfig, permissions: "0600" },
            { path: "/usr/local/sbin/swarm-renew-registry-auth", content: renewScript, permissions: "0755" },
            {
                path: "/etc/systemd/system/swarm-renew-registry-auth.service",
                content: "[Unit]\nDescription=Renew the swarm services' registry login\nAfter=docker.service\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/swarm-renew-registry-auth\n",
            },
            {
                path: "/etc/systemd/system/swarm-renew-registry-auth.timer",
                content: `[Unit]\nDescription=Renew the swarm services' registry login every ${registryAuthRenewal}\n\n[Timer]\nOnBootSec=15min\nOnUnitActiveSec=${registryAuthRenewal}\n\n[Install]\nWantedBy=timers.target\n`,
            },
        ],
        runcmd: [
            ["systemctl", "enable", "--now", "docker"],
            ["usermod", "-aG", "docker", user],
            ["systemctl", "enable", "--now", "swarm-renew-registry-auth.timer"],
        ],
    })}`;
}
