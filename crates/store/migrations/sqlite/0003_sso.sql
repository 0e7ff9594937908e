-- Single sign-on for staff with OpenID Connect: one identity provider per workspace, and the
-- short-lived sign-in attempts that tie the provider's answer to the browser that asked.
-- The PostgreSQL schema is the same table for table.

-- A workspace's identity provider. No row: SSO was never configured.
create table workspace_sso (
    workspace_id integer primary key references workspace (workspace_id),
    -- the provider's issuer identifier; discovery reads <issuer>/.well-known/openid-configuration
    -- and the ID token's iss claim must equal it
    issuer text not null,
    client_id text not null,
    -- the client secret sealed with the deployment's identity key (nonce followed by ciphertext),
    -- like TOTP secrets; never returned by the API
    client_secret blob not null,
    -- 1: staff may sign in through the provider; 0: configured but switched off
    enabled integer not null check (enabled in (0, 1)),
    -- 1: a verified email without a staff account here becomes a new agent account;
    -- 0: only existing staff may sign in
    auto_create integer not null check (auto_create in (0, 1)),
    created_at integer not null,
    updated_at integer not null
);

-- A sign-in sent to the provider that has not come back yet. Single use: the callback deletes
-- the row it consumes, so a replayed callback finds nothing. Rows expire after minutes and are
-- purged when new attempts start.
create table sso_attempt (
    sso_attempt_id integer primary key,
    workspace_id integer not null references workspace (workspace_id),
    -- SHA-256 of the `state` parameter sent to the provider (it comes back on the callback)
    state_hash blob not null unique,
    -- SHA-256 of the HttpOnly cookie given to the browser that started the attempt: a callback
    -- from any other browser (a login CSRF) does not match
    browser_hash blob not null,
    -- the ID token's nonce claim must equal it
    nonce text not null,
    -- PKCE (S256) code verifier, sent with the code to the token endpoint
    pkce_verifier text not null,
    -- the redirect_uri of the authorization request; the token request must repeat it exactly
    redirect_uri text not null,
    -- where the browser goes once signed in: a path on this server
    return_to text not null,
    created_at integer not null,
    expires_at integer not null
);
-- Purging expired attempts.
create index sso_attempt_expires_idx on sso_attempt (expires_at);
