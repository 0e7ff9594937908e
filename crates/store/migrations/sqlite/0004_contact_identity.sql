-- How a workspace verifies who its contacts are (widget visitors, marketplace users).
-- Websites (later) can override it per installation.
create table contact_identity (
    workspace_id integer primary key references workspace (workspace_id),
    -- 1: contacts must prove who they are (HMAC or JWT) before they can chat
    require_verified integer not null default 0 check (require_verified in (0, 1)),
    -- the secret for user_hash = HMAC-SHA256(secret, user_id), sealed with the identity key
    hmac_secret blob,
    -- host-platform JWTs: 'HS256' (shared secret, sealed), 'RS256' or 'ES256' (PEM public key
    -- or a JWKS URL); null disables JWT verification
    jwt_algorithm text check (jwt_algorithm in ('HS256', 'RS256', 'ES256')),
    jwt_secret blob,
    jwt_public_key text,
    jwt_jwks_url text,
    jwt_issuer text,
    jwt_audience text,
    updated_at integer not null
);
