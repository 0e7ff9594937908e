-- Websites (widget installations) and what the widget learns about visitors.

create table website (
    website_id integer primary key,
    workspace_id integer not null references workspace (workspace_id),
    -- the public key the install snippet carries ("wk_…")
    public_key text not null unique,
    name text not null,
    -- everything an admin edits (domains, appearance, pre-chat, hours, privacy, limits) as
    -- JSON text: validated by the server, read whole, never queried by field
    settings text not null,
    -- the secret for user_hash = HMAC-SHA256(secret, user_id), sealed with the identity key;
    -- null falls back to the workspace's secret
    hmac_secret blob,
    -- 'all': every agent of the workspace may serve it; 'listed': only website_agent rows
    agent_access text not null default 'all' check (agent_access in ('all', 'listed')),
    created_at integer not null,
    updated_at integer not null,
    deleted_at integer
);
create index website_workspace_idx on website (workspace_id, website_id);

-- Agents who may serve a website whose agent_access is 'listed'.
create table website_agent (
    website_id integer not null references website (website_id),
    account_id integer not null references account (account_id),
    primary key (website_id, account_id)
);

-- Support conversations started from a website remember it (inbox views, agent access).
alter table conversation add column website_id integer references website (website_id);
-- The staff inbox: a workspace's conversations by activity, optionally of one website.
create index conversation_workspace_activity_idx
    on conversation (workspace_id, last_activity_at, conversation_id);

-- What a contact told us beyond name and email (pre-chat form, identify, progressive
-- profiling), and the website it first came from.
create table contact_profile (
    account_id integer primary key references account (account_id),
    website_id integer references website (website_id),
    phone text,
    company text,
    -- JSON object from identify's customData
    custom_data text,
    -- JSON object of pre-chat / offline custom fields
    fields text,
    updated_at integer not null
);

-- One visit of a visitor to a website: where they came from and on what.
create table visitor_session (
    session_id integer primary key,
    website_id integer not null references website (website_id),
    account_id integer not null references account (account_id),
    started_at integer not null,
    last_seen_at integer not null,
    -- the client address as the website's privacy mode allows (full, truncated or none)
    ip text,
    country_code text,
    country text,
    region text,
    city text,
    geo_time_zone text,
    browser text,
    browser_version text,
    os text,
    os_version text,
    device_type text,
    user_agent text,
    screen_width integer,
    screen_height integer,
    language text,
    time_zone text,
    referrer text,
    landing_page text,
    source text not null,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    utm_term text,
    utm_content text,
    click_id_kind text,
    click_id text,
    page_views integer not null default 0,
    current_url text,
    current_title text,
    current_page_at integer,
    exit_intent_at integer,
    -- set once the visitor is known to have left (closed the page); live views also
    -- expire sessions not seen for a while
    ended_at integer
);
-- Live visitors of a website: sessions seen recently.
create index visitor_session_live_idx on visitor_session (website_id, last_seen_at);
-- A visitor's sessions (returning or new, the agent's context panel).
create index visitor_session_account_idx on visitor_session (account_id, started_at);

-- The navigation path of a session.
create table page_view (
    page_view_id integer primary key,
    session_id integer not null references visitor_session (session_id),
    url text not null,
    title text,
    referrer text,
    started_at integer not null,
    -- set when the next page view (or the end of the session) closes this one
    duration_ms integer
);
create index page_view_session_idx on page_view (session_id, page_view_id);

-- Custom events from the widget's track() (conversions: a purchase with a value).
create table visitor_event (
    visitor_event_id integer primary key,
    session_id integer not null references visitor_session (session_id),
    website_id integer not null references website (website_id),
    account_id integer not null references account (account_id),
    name text not null,
    properties text,
    value real,
    currency text,
    created_at integer not null
);
create index visitor_event_website_idx on visitor_event (website_id, name, created_at);
create index visitor_event_account_idx on visitor_event (account_id, created_at);
