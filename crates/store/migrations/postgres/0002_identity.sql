-- Identity and access: passwords, sessions, TOTP, recovery codes, single-use tokens, scoped
-- API tokens, per-workspace security settings, and the append-only audit log.

-- argon2id PHC string; null until the person sets a password (invited, or SSO only)
alter table account add column password_hash text;
-- TOTP secret sealed with the deployment's identity key (nonce followed by ciphertext)
alter table account add column totp_secret bytea;
-- set once the person proved the authenticator works; TOTP is enforced from then on
alter table account add column totp_enabled_at bigint;
-- the last TOTP time step accepted, so one code cannot be used twice
alter table account add column totp_last_step bigint;
-- consecutive failed sign-ins, and the lockout they caused (brute-force backoff)
alter table account add column failed_logins bigint not null default 0;
alter table account add column locked_until bigint;

-- who must use a second factor: nobody, owners and admins, or every staff member
alter table workspace add column mfa_required text not null default 'none'
    check (mfa_required in ('none', 'admins', 'all'));

-- space-separated subset of: read write admin
alter table api_token add column scopes text not null default 'read write admin';

create table session (
    session_id bigint generated always as identity primary key,
    account_id bigint not null references account (account_id),
    -- SHA-256 of the cookie value
    token_hash bytea not null unique,
    -- sent back in X-CSRF-Token on every cookie-authenticated write
    csrf_token text not null,
    -- 'mfa': the second factor is still owed; 'enrol': the workspace requires a second
    -- factor the person has not set up; 'active': signed in
    state text not null check (state in ('mfa', 'enrol', 'active')),
    ip text,
    user_agent text,
    created_at bigint not null,
    last_seen_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
-- "my sessions" and revoking them all on a password change
create index session_account_idx on session (account_id);

create table recovery_code (
    recovery_code_id bigint generated always as identity primary key,
    account_id bigint not null references account (account_id),
    code_hash bytea not null,
    used_at bigint,
    created_at bigint not null
);
create index recovery_code_account_idx on recovery_code (account_id);

-- password reset and invitation links: single use, expiring, only a hash kept
create table one_time_token (
    one_time_token_id bigint generated always as identity primary key,
    account_id bigint not null references account (account_id),
    purpose text not null check (purpose in ('password_reset', 'invitation')),
    token_hash bytea not null unique,
    expires_at bigint not null,
    used_at bigint,
    created_at bigint not null
);

create table audit_log (
    audit_id bigint generated always as identity primary key,
    workspace_id bigint not null references workspace (workspace_id),
    -- null when the actor is unknown (a failed sign-in) or natter itself
    actor_id bigint,
    action text not null,
    target_type text,
    target_id text,
    ip text,
    -- JSON object with details
    detail text,
    created_at bigint not null
);
-- The admin view: newest first within a workspace.
create index audit_log_workspace_idx on audit_log (workspace_id, audit_id);

-- Append-only, even for someone with SQL access through natter's own connection.
create function audit_log_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only';
end;
$$;
create trigger audit_log_no_update before update or delete on audit_log
    for each row execute function audit_log_append_only();
