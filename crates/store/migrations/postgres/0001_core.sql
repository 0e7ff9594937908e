-- natter core schema (PostgreSQL). Timestamps are bigint milliseconds since the Unix epoch;
-- JSON is stored as text. The SQLite schema is the same table for table.

-- Random per-deployment secrets (e.g. the contact-token signing key), shared by every node.
create table server_secret (
    name text primary key,
    value bytea not null,
    created_at bigint not null
);

create table workspace (
    workspace_id bigint generated always as identity primary key,
    name text not null,
    created_at bigint not null,
    updated_at bigint not null
);

-- Staff members and contacts share one table (and one id space) so that participants,
-- cursors and event streams can refer to either.
create table account (
    account_id bigint generated always as identity primary key,
    workspace_id bigint not null references workspace (workspace_id),
    kind text not null check (kind in ('staff', 'contact')),
    role text check (role in ('owner', 'admin', 'agent')),
    identity text check (identity in ('anonymous', 'partial', 'identified', 'verified')),
    external_id text,
    name text,
    email text,
    created_at bigint not null,
    updated_at bigint not null,
    deactivated_at bigint,
    check ((kind = 'staff') = (role is not null)),
    check ((kind = 'contact') = (identity is not null))
);
-- Contact lookup by the host platform's id (upsert on contact creation).
create unique index account_external_id_key on account (workspace_id, external_id)
    where external_id is not null;
-- Staff lookup by email (one staff account per email per workspace).
create unique index account_staff_email_key on account (workspace_id, email)
    where kind = 'staff';

-- Staff API tokens. Only a SHA-256 of the token is kept.
create table api_token (
    api_token_id bigint generated always as identity primary key,
    account_id bigint not null references account (account_id),
    token_hash bytea not null unique,
    name text not null,
    created_at bigint not null,
    last_used_at bigint,
    revoked_at bigint
);

create table conversation (
    conversation_id bigint generated always as identity primary key,
    workspace_id bigint not null references workspace (workspace_id),
    kind text not null check (kind in ('support', 'direct')),
    status text not null check (status in ('open', 'pending', 'resolved', 'archived')),
    subject text,
    listing text,
    -- highest message seq; bumped under the writer lock to hand out the next seq
    last_seq bigint not null default 0,
    last_activity_at bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

create table participant (
    conversation_id bigint not null references conversation (conversation_id),
    account_id bigint not null references account (account_id),
    role text not null
        check (role in ('customer', 'agent', 'buyer', 'seller', 'third_party', 'bot')),
    visibility text not null check (visibility in ('full', 'since_joined')),
    -- first message seq this participant may read (1 for full history)
    history_from_seq bigint not null,
    -- first event of the conversation that belongs in this participant's stream
    joined_event_id bigint not null,
    -- last event of the conversation in this participant's stream, once they left
    left_event_id bigint,
    joined_at bigint not null,
    left_at bigint,
    read_seq bigint not null default 0,
    delivered_seq bigint not null default 0,
    primary key (conversation_id, account_id)
);
-- The caller's conversation list and the resume query start from the account.
create index participant_account_idx on participant (account_id, conversation_id);

create table message (
    message_id bigint generated always as identity primary key,
    conversation_id bigint not null references conversation (conversation_id),
    seq bigint not null,
    sender_id bigint references account (account_id),
    kind text not null check (kind in ('text', 'note', 'system', 'event')),
    format text not null check (format in ('plain', 'markdown')),
    body text not null,
    client_msg_id text,
    created_at bigint not null,
    edited_at bigint,
    deleted_at bigint
);
-- History pages: before/after a seq within one conversation.
create unique index message_conversation_seq_key on message (conversation_id, seq);
-- Idempotent sends: one message per sender per client_msg_id in a conversation.
create unique index message_client_msg_id_key on message (conversation_id, sender_id, client_msg_id)
    where client_msg_id is not null;

create table reaction (
    message_id bigint not null references message (message_id),
    account_id bigint not null references account (account_id),
    emoji text not null,
    created_at bigint not null,
    primary key (message_id, account_id, emoji)
);

-- The global event log. Ids are handed out from event_counter inside the writing
-- transaction, so they are gap-free and in commit order: an account's stream is the
-- subsequence of this log it may see, and "everything after id N" is a complete answer.
create table event (
    event_id bigint primary key,
    conversation_id bigint not null,
    -- 'all' or 'staff' (internal notes and what happens to them)
    audience text not null check (audience in ('all', 'staff')),
    -- seq of the message the event concerns, so since_joined participants are filtered
    message_seq bigint,
    payload text not null,
    created_at bigint not null
);
-- Resume: the events of one conversation after a cursor.
create index event_conversation_idx on event (conversation_id, event_id);

create table event_counter (
    singleton bigint primary key check (singleton = 1),
    last_event_id bigint not null,
    -- events at or below this id have been pruned; older cursors must resync
    pruned_through bigint not null
);
insert into event_counter (singleton, last_event_id, pruned_through) values (1, 0, 0);
