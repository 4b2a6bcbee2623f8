// The systemd unit that runs a standalone Mattermost: the release /opt/mattermost links to, as its
// own user, with its settings from the environment file. Based on the unit Mattermost ships in its
// .deb (mattermost-omnibus mattermost/files/mattermost.service) and deploy-tar.rst: Type=notify (the
// server reports readiness), KillMode=mixed, the file-descriptor limit, and ordering on the local
// PostgreSQL. Pure module.

import { STANDALONE_LAYOUT } from "./hostLayout";

/** The unit's name, as systemctl knows it. */
export const MATTERMOST_UNIT = "mattermost.service";

/** The text of /etc/systemd/system/mattermost.service. */
export function mattermostUnit(): string {
    const { currentRelease, configFile, environmentFile, user } = STANDALONE_LAYOUT;
    return `# Written by gitlab-mattermost; edits here are replaced.
[Unit]
Description=Mattermost
After=network-online.target postgresql.service
Wants=network-online.target
# The database is on this host: Mattermost stops with it and starts after it.
BindsTo=postgresql.service

[Service]
Type=notify
User=${user}
Group=${user}
WorkingDirectory=${currentRelease}
EnvironmentFile=${environmentFile}
ExecStart=${currentRelease}/bin/mattermost --config ${configFile}
# Database migrations of a major upgrade can take long before the server reports ready.
TimeoutStartSec=3600
KillMode=mixed
Restart=always
RestartSec=10
LimitNOFILE=49152
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
`;
}
