// A Mattermost-like database and data directory for the backup tests and the benchmark, and the
// fingerprints that tell whether a restore gave back exactly what was backed up.
//
// The tables, columns and indexes follow Mattermost 10's PostgreSQL schema (lower-case names, 26-char
// ids, jsonb props, the channel_type enum, full-text GIN indexes on posts), cut to the tables that
// carry the data: users, teams, channels, channel members, posts, reactions, file infos (with bytea
// mini previews), plugin key-values (bytea), systems, and a retention policy pair with a foreign key.
// Rows are generated server-side with generate_series, deterministic, so a large database builds fast.

import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { PostgresCluster } from "./postgres";

/** The role Omnibus creates for Mattermost (postgresql['sql_mattermost_user']); it owns the schema. */
export const MATTERMOST_DB_OWNER = "gitlab_mattermost";

export const MATTERMOST_TABLES = [
    "channelmembers",
    "channels",
    "fileinfo",
    "pluginkeyvaluestore",
    "posts",
    "reactions",
    "retentionpolicies",
    "retentionpoliciesteams",
    "systems",
    "teams",
    "users",
] as const;

const SCHEMA_SQL = String.raw`
CREATE TYPE channel_type AS ENUM ('P', 'G', 'O', 'D');

CREATE TABLE users (
    id varchar(26) PRIMARY KEY,
    createat bigint, updateat bigint, deleteat bigint,
    username varchar(64) UNIQUE,
    password varchar(128), authdata varchar(128) UNIQUE, authservice varchar(32),
    email varchar(128) UNIQUE, emailverified boolean,
    nickname varchar(64), firstname varchar(64), lastname varchar(64), position varchar(128),
    roles varchar(256), allowmarketing boolean,
    props jsonb, notifyprops jsonb,
    lastpasswordupdate bigint, lastpictureupdate bigint, failedattempts integer,
    locale varchar(5), timezone jsonb, mfaactive boolean, mfasecret varchar(128),
    remoteid varchar(26), lastlogin bigint NOT NULL DEFAULT 0
);
CREATE INDEX idx_users_update_at ON users (updateat);
CREATE INDEX idx_users_create_at ON users (createat);
CREATE INDEX idx_users_delete_at ON users (deleteat);
CREATE INDEX idx_users_all_txt ON users USING gin (to_tsvector('english', username || ' ' || firstname || ' ' || lastname || ' ' || nickname || ' ' || email));

CREATE TABLE teams (
    id varchar(26) PRIMARY KEY,
    createat bigint, updateat bigint, deleteat bigint,
    displayname varchar(64), name varchar(64) UNIQUE, description varchar(255),
    email varchar(128), type varchar(255), companyname varchar(64), alloweddomains text,
    inviteid varchar(32), schemeid varchar(26), allowopeninvite boolean,
    lastteamiconupdate bigint, groupconstrained boolean, cloudlimitsarchived boolean NOT NULL DEFAULT false
);
CREATE INDEX idx_teams_invite_id ON teams (inviteid);

CREATE TABLE channels (
    id varchar(26) PRIMARY KEY,
    createat bigint, updateat bigint, deleteat bigint,
    teamid varchar(26), type channel_type,
    displayname varchar(64), name varchar(64), header varchar(1024), purpose varchar(250),
    lastpostat bigint, totalmsgcount bigint, extraupdateat bigint, creatorid varchar(26),
    schemeid varchar(26), groupconstrained boolean, shared boolean,
    totalmsgcountroot bigint, lastrootpostat bigint DEFAULT 0,
    UNIQUE (name, teamid)
);
CREATE INDEX idx_channels_team_id_type ON channels (teamid, type);
CREATE INDEX idx_channels_update_at ON channels (updateat);
CREATE INDEX idx_channel_search_txt ON channels USING gin (to_tsvector('english', name || ' ' || displayname || ' ' || purpose));

CREATE TABLE channelmembers (
    channelid varchar(26) NOT NULL, userid varchar(26) NOT NULL,
    roles varchar(256), lastviewedat bigint, msgcount bigint, mentioncount bigint,
    notifyprops jsonb, lastupdateat bigint, schemeuser boolean, schemeadmin boolean, schemeguest boolean,
    mentioncountroot bigint, msgcountroot bigint, urgentmentioncount bigint,
    PRIMARY KEY (channelid, userid)
);
CREATE INDEX idx_channelmembers_user_id_channel_id_last_viewed_at ON channelmembers (userid, channelid, lastviewedat);

CREATE TABLE posts (
    id varchar(26) PRIMARY KEY,
    createat bigint, updateat bigint, editat bigint, deleteat bigint, ispinned boolean,
    userid varchar(26), channelid varchar(26), rootid varchar(26), originalid varchar(26),
    message varchar(65535), type varchar(26), props jsonb,
    hashtags varchar(1000), filenames varchar(4000), fileids varchar(300),
    hasreactions boolean, remoteid varchar(26)
);
CREATE INDEX idx_posts_update_at ON posts (updateat);
CREATE INDEX idx_posts_create_at ON posts (createat);
CREATE INDEX idx_posts_delete_at ON posts (deleteat);
CREATE INDEX idx_posts_root_id_delete_at ON posts (rootid, deleteat);
CREATE INDEX idx_posts_user_id ON posts (userid);
CREATE INDEX idx_posts_is_pinned ON posts (ispinned);
CREATE INDEX idx_posts_channel_id_update_at ON posts (channelid, updateat);
CREATE INDEX idx_posts_channel_id_delete_at_create_at ON posts (channelid, deleteat, createat);
CREATE INDEX idx_posts_original_id ON posts (originalid);
CREATE INDEX idx_posts_message_txt ON posts USING gin (to_tsvector('english', message));
CREATE INDEX idx_posts_hashtags_txt ON posts USING gin (to_tsvector('english', hashtags));

CREATE TABLE reactions (
    userid varchar(26) NOT NULL, postid varchar(26) NOT NULL, emojiname varchar(64) NOT NULL,
    createat bigint, updateat bigint, deleteat bigint, remoteid varchar(26), channelid varchar(26) NOT NULL DEFAULT '',
    PRIMARY KEY (postid, userid, emojiname)
);
CREATE INDEX idx_reactions_channel_id ON reactions (channelid);

CREATE TABLE fileinfo (
    id varchar(26) PRIMARY KEY,
    creatorid varchar(26), postid varchar(26), channelid varchar(26),
    createat bigint, updateat bigint, deleteat bigint,
    path varchar(512), thumbnailpath varchar(512), previewpath varchar(512),
    name varchar(256), extension varchar(64), size bigint, mimetype varchar(256),
    width integer, height integer, haspreviewimage boolean,
    minipreview bytea, content text, remoteid varchar(26), archived boolean NOT NULL DEFAULT false
);
CREATE INDEX idx_fileinfo_postid_at ON fileinfo (postid);
CREATE INDEX idx_fileinfo_name_txt ON fileinfo USING gin (to_tsvector('english', name));
CREATE INDEX idx_fileinfo_content_txt ON fileinfo USING gin (to_tsvector('english', content));

CREATE TABLE pluginkeyvaluestore (
    pluginid varchar(190) NOT NULL, pkey varchar(150) NOT NULL, pvalue bytea, expireat bigint,
    PRIMARY KEY (pluginid, pkey)
);

CREATE TABLE systems (name varchar(64) PRIMARY KEY, value varchar(1024));

CREATE TABLE retentionpolicies (id varchar(26) PRIMARY KEY, displayname varchar(64), postduration bigint);
CREATE TABLE retentionpoliciesteams (
    policyid varchar(26) REFERENCES retentionpolicies (id) ON DELETE CASCADE,
    teamid varchar(26) PRIMARY KEY
);
`;

/** Words posts are made of: real words for the full-text indexes, in several scripts and emoji. */
const VOCABULARY = [
    "deploy", "review", "merge", "request", "pipeline", "failed", "passed", "release", "hotfix", "branch",
    "commit", "rebase", "issue", "milestone", "runner", "cache", "artifact", "registry", "backup", "restore",
    "database", "migration", "index", "query", "latency", "incident", "postmortem", "on-call", "alert", "dashboard",
    "meeting", "tomorrow", "today", "thanks", "please", "approve", "blocked", "ready", "shipping", "customer",
    "café", "naïve", "résumé", "Überprüfung", "Straße", "déploiement", "façade", "jalapeño", "smörgåsbord", "crème",
    "合并", "请求", "部署", "数据库", "レビュー", "リリース", "デプロイ", "миграция", "резервная", "копия",
    "🎉", "🚀", "✅", "🔥", "👍", "😅", "🐛", "📦", "ℹ️", "∑",
    "the", "a", "we", "should", "could", "after", "before", "with", "from", "about",
];

const HASHTAGS = ["#release", "#incident", "#backup", "#oncall", "#café", "#リリース", ""];
const EMOJI = ["thumbsup", "tada", "rocket", "eyes", "white_check_mark", "heart", "joy"];

function sqlArray(values: readonly string[]): string {
    return `ARRAY[${values.map((value) => `'${value.replace(/'/g, "''")}'`).join(", ")}]::text[]`;
}

export interface MattermostScale {
    readonly users: number;
    readonly channels: number;
    readonly posts: number;
    /** Every this-many-th post carries a ~16 kB message (TOASTed), as long pastes do. */
    readonly largePostEvery: number;
}

/** Channels each user belongs to (fewer when there are fewer channels). */
const MEMBERSHIPS_PER_USER = 30;

export const TEST_SCALE: MattermostScale = { users: 200, channels: 40, posts: 6000, largePostEvery: 250 };

/** A 26-character id derived from a kind and a number, like Mattermost's ids. */
const id = (kind: string, expression: string) => `substr(md5('${kind}' || (${expression})::text), 1, 26)`;

/** Creates the schema, owned by MATTERMOST_DB_OWNER as Mattermost itself would. */
export async function createMattermostSchema(cluster: PostgresCluster, database: string): Promise<void> {
    await cluster.sql(database, `SET ROLE ${MATTERMOST_DB_OWNER};\n${SCHEMA_SQL}`);
}

/**
 * Inserts posts [first, first + count) of a database at `scale`. The benchmark calls it repeatedly
 * to grow a database; the small tables are filled by insertMattermostBase.
 */
export function postsSql(scale: MattermostScale, first: number, count: number): string {
    const words = sqlArray(VOCABULARY);
    const hashtags = sqlArray(HASHTAGS);
    const n = VOCABULARY.length;
    return `
INSERT INTO posts
SELECT ${id("p", "g")},
       1700000000000 + g * 1000, 1700000000000 + g * 1000 + (g % 3) * 500, CASE WHEN g % 11 = 0 THEN 1700000000000 + g * 1000 + 60000 ELSE 0 END,
       CASE WHEN g % 97 = 0 THEN 1700000000000 + g * 1000 + 90000 ELSE 0 END, g % 101 = 0,
       ${id("u", `g % ${scale.users}`)}, ${id("c", `g % ${scale.channels}`)},
       CASE WHEN g % 5 = 0 THEN ${id("p", "g - 1")} ELSE '' END, '',
       CASE WHEN g % ${scale.largePostEvery} = 0
            THEN repeat(array_to_string((${words})[1:${n}], ' ') || E'\\n', 16)
            ELSE array_to_string((${words})[1 + (g * 7) % ${n}:1 + (g * 7) % ${n} + g % 23], ' ')
                 || ' ' || array_to_string((${words})[1 + (g * 13) % ${n}:1 + (g * 13) % ${n} + g % 17], ' ')
                 -- What chat next to GitLab is full of: merge request links and commit ids.
                 || CASE WHEN g % 3 = 0 THEN ' see !' || g % 20000 || ' at ' || substr(md5('commit' || g), 1, 8) ELSE '' END
                 || CASE WHEN g % 7 = 0 THEN ' https://gitlab.example.com/group/project-' || g % 300 || '/-/merge_requests/' || g % 20000 ELSE '' END
       END,
       CASE WHEN g % 53 = 0 THEN 'system_join_channel' ELSE '' END,
       jsonb_build_object('from_bot', g % 31 = 0, 'disable_group_highlight', g % 2 = 0, 'seq', g),
       (${hashtags})[1 + g % ${HASHTAGS.length}],
       '[]', CASE WHEN g % 20 = 0 THEN '["' || ${id("f", "g")} || '"]' ELSE '[]' END,
       g % 7 = 0, NULL
FROM generate_series(${first}, ${first + count - 1}) AS g;
INSERT INTO reactions
SELECT ${id("u", `(g + e) % ${scale.users}`)}, ${id("p", "g")}, (${sqlArray(EMOJI)})[1 + e],
       1700000000000 + g * 1000 + e, 1700000000000 + g * 1000 + e, 0, NULL, ${id("c", `g % ${scale.channels}`)}
FROM generate_series(${first}, ${first + count - 1}) AS g, generate_series(0, 2) AS e
WHERE g % 7 = 0;
INSERT INTO fileinfo
SELECT ${id("f", "g")}, ${id("u", `g % ${scale.users}`)}, ${id("p", "g")}, ${id("c", `g % ${scale.channels}`)},
       1700000000000 + g * 1000, 1700000000000 + g * 1000, 0,
       '20260101/teams/noteam/channels/' || ${id("c", `g % ${scale.channels}`)} || '/users/' || ${id("u", `g % ${scale.users}`)} || '/' || ${id("f", "g")} || '/screenshot-' || g || '.png',
       '', '', 'Bildschirmfoto ' || g || ' – déploiement.png', 'png', 1000 + g, 'image/png', 640, 480, true,
       decode(md5('mini' || g) || md5('preview' || g) || '00ff7f80', 'hex'),
       'extracted text of file ' || g || ' ' || array_to_string((${words})[1 + g % ${n}:1 + g % ${n} + 6], ' '),
       NULL, false
FROM generate_series(${first}, ${first + count - 1}) AS g
WHERE g % 20 = 0;
`;
}

/** Users, teams, channels, members, plugin values, systems and retention policies at `scale`. */
export function baseSql(scale: MattermostScale): string {
    return `
INSERT INTO teams
SELECT ${id("t", "g")}, 1700000000000, 1700000000000, 0, 'Team ' || g || ' – Équipe', 'team-' || g, 'the team of ' || g,
       'team' || g || '@example.com', 'O', '', '', md5('invite' || g), NULL, true, 0, false, false
FROM generate_series(0, 4) AS g;
INSERT INTO users
SELECT ${id("u", "g")}, 1700000000000 + g, 1700000000000 + g, 0, 'user' || g,
       '$2a$10$' || md5('password' || g), 'gitlab-' || g, 'gitlab',
       'user' || g || '@example.com', true, 'nick' || g, 'Zoë' || g, 'Müller-' || g, 'engineer',
       'system_user', false,
       jsonb_build_object('customStatus', 'on vacation 🌴'), jsonb_build_object('desktop', 'mention', 'email', 'true'),
       1700000000000, 0, 0, 'en', '{"useAutomaticTimezone": "true"}'::jsonb, false, '', NULL, 1700000000000 + g
FROM generate_series(0, ${scale.users - 1}) AS g;
INSERT INTO channels
SELECT ${id("c", "g")}, 1700000000000, 1700000000000, 0, ${id("t", "g % 5")},
       (ARRAY['O', 'P', 'D', 'G']::channel_type[])[1 + g % 4],
       'Channel ' || g || ' 📦', 'channel-' || g, 'header of ' || g, 'purpose ' || g,
       0, 0, 0, ${id("u", `g % ${scale.users}`)}, NULL, false, false, 0, 0
FROM generate_series(0, ${scale.channels - 1}) AS g;
INSERT INTO channelmembers
SELECT ${id("c", `(u + k) % ${scale.channels}`)}, ${id("u", "u")}, '', 1700000000000, 10, 0,
       '{"desktop": "default", "mark_unread": "all"}'::jsonb, 1700000000000, true, false, false, 0, 0, 0
FROM generate_series(0, ${scale.users - 1}) AS u, generate_series(0, ${Math.min(scale.channels, MEMBERSHIPS_PER_USER) - 1}) AS k;
INSERT INTO pluginkeyvaluestore
SELECT 'com.mattermost.plugin-' || g % 4, 'key-' || g, decode(repeat(md5('value' || g), 16) || '000102fdfeff', 'hex'), 0
FROM generate_series(0, 199) AS g;
INSERT INTO systems VALUES ('Version', '10.11.20'), ('DiagnosticId', md5('diagnostic')), ('FirstServerRunTimestamp', '1700000000000');
INSERT INTO retentionpolicies VALUES (${id("r", "1")}, 'Keep a year', 365);
INSERT INTO retentionpoliciesteams VALUES (${id("r", "1")}, ${id("t", "0")}), (${id("r", "1")}, ${id("t", "1")});
`;
}

/** Creates the role Mattermost's database belongs to, if the cluster has none yet. */
export async function ensureMattermostRole(cluster: PostgresCluster): Promise<void> {
    await cluster.sql(
        "postgres",
        `DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${MATTERMOST_DB_OWNER}') THEN
                CREATE ROLE ${MATTERMOST_DB_OWNER} LOGIN;
            END IF;
        END $$;`,
    );
}

/** Creates `database` owned by Mattermost's role and loads the schema and data at `scale`. */
export async function createMattermostDatabase(cluster: PostgresCluster, database: string, scale: MattermostScale): Promise<void> {
    await ensureMattermostRole(cluster);
    await cluster.sql("postgres", `CREATE DATABASE "${database}" OWNER ${MATTERMOST_DB_OWNER}`);
    await createMattermostSchema(cluster, database);
    await cluster.sql(database, `SET ROLE ${MATTERMOST_DB_OWNER};\n${baseSql(scale)}\n${postsSql(scale, 1, scale.posts)}\nANALYZE;`, 600_000);
}

export interface DatabaseFingerprint {
    /** Per table: row count and a sum of per-row md5 values (order-independent, exact per row). */
    readonly tables: Record<string, string>;
    /** Owners, indexes, constraints and enum types, one line each. */
    readonly schema: string[];
}

/** What a restore must reproduce of `database`. */
export async function fingerprint(cluster: PostgresCluster, database: string): Promise<DatabaseFingerprint> {
    const perTable = MATTERMOST_TABLES.map(
        (table) => `SELECT '${table}', count(*) || ' rows, ' || coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0)
                    || '/' || coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) FROM (SELECT md5(t::text) AS h FROM ${table} AS t) AS rows`,
    );
    const rows = await cluster.sql(database, `${perTable.join("\nUNION ALL ")};`, 600_000);
    const tables: Record<string, string> = {};
    for (const line of rows.split("\n").filter((row) => row !== "")) {
        const [table, summary] = line.split("|");
        tables[table!] = summary!;
    }
    const schema = (
        await cluster.sql(
            database,
            `SELECT 'database owner ' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()
             UNION ALL SELECT 'table ' || tablename || ' owner ' || tableowner FROM pg_tables WHERE schemaname = 'public'
             UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
                       FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL SELECT 'type ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                       FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid GROUP BY t.typname
             ORDER BY 1`,
        )
    )
        .split("\n")
        .filter((line) => line !== "");
    return { tables, schema };
}

/**
 * A Mattermost-like data directory: uploads under teams/.../channels/.../users/..., profile images,
 * a unicode file name, a name with spaces, an empty directory, binary and larger files.
 */
export function writeDataDirectory(dir: string): void {
    const file = (path: string, content: Buffer | string, mode = 0o640) => {
        const full = join(dir, path);
        mkdirSync(join(full, ".."), { recursive: true });
        writeFileSync(full, content, { mode });
    };
    const binary = Buffer.alloc(256 * 1024);
    for (let i = 0; i < binary.length; i++) {
        binary[i] = (i * 7919 + (i >> 8)) & 0xff;
    }
    for (let f = 0; f < 12; f++) {
        const base = `20260101/teams/noteam/channels/channel${f % 3}/users/user${f}/file${f}`;
        file(`${base}/screenshot-${f}.png`, binary.subarray(0, 1024 * (f + 1)));
        file(`${base}/screenshot-${f}_thumb.jpg`, `thumbnail ${f}`);
    }
    file("users/user1/profile.png", binary);
    file("users/user2/Zoë Müller – résumé 2026.pdf", "%PDF-1.7 résumé ✅\n");
    file("plugins/com.mattermost.calls/state.json", '{"enabled": true}\n', 0o600);
    file("brand/image.png", binary.subarray(0, 4096), 0o644);
    mkdirSync(join(dir, "emoji"), { recursive: true });
}

/**
 * Mattermost's plugin directories under `home` as an administrator's upload leaves them: a plugin's
 * manifest and executable server binary in plugins/, its web bundle in client-plugins/.
 */
export function writePluginDirectories(home: string): void {
    const file = (path: string, content: string, mode: number) => {
        const full = join(home, path);
        mkdirSync(join(full, ".."), { recursive: true });
        writeFileSync(full, content, { mode });
    };
    file("plugins/com.example.standup/plugin.json", '{"id": "com.example.standup", "version": "1.2.0"}\n', 0o644);
    file("plugins/com.example.standup/server/dist/plugin-linux-amd64", "\x7fELF stand-in for a plugin binary\n", 0o755);
    file("client-plugins/com.example.standup/com.example.standup_0123abcd_bundle.js", "window.registerPlugin('com.example.standup', {});\n", 0o644);
}

/** A hash over every entry's relative path, type, mode, and content. */
export function fileTreeHash(dir: string): string {
    const hash = createHash("sha256");
    const walk = (current: string) => {
        for (const name of readdirSync(current).sort()) {
            const full = join(current, name);
            const stat = lstatSync(full);
            const mode = (stat.mode & 0o7777).toString(8);
            if (stat.isDirectory()) {
                hash.update(`dir ${relative(dir, full)} ${mode}\n`);
                walk(full);
            } else {
                const content = createHash("sha256").update(readFileSync(full)).digest("hex");
                hash.update(`file ${relative(dir, full)} ${mode} ${content}\n`);
            }
        }
    };
    walk(dir);
    return hash.digest("hex");
}

/** Where a Mattermost host keeps what a restore gives back. */
export interface MattermostPlaces {
    readonly database: string;
    readonly dataDir: string;
    readonly pluginDir: string;
    readonly clientPluginDir: string;
    readonly config: string;
}

/** Everything a restore must give back, as it is now. */
export interface MattermostState {
    readonly database: DatabaseFingerprint;
    readonly files: string;
    readonly plugins: string;
    readonly clientPlugins: string;
    readonly config: string;
}

export async function mattermostState(cluster: PostgresCluster, places: MattermostPlaces): Promise<MattermostState> {
    return {
        database: await fingerprint(cluster, places.database),
        files: fileTreeHash(places.dataDir),
        plugins: fileTreeHash(places.pluginDir),
        clientPlugins: fileTreeHash(places.clientPluginDir),
        config: readFileSync(places.config, "utf8"),
    };
}
