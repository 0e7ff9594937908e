-- A number per conversation that changes whenever its member list can have changed, so that the
-- committer can keep member lists in memory and check them with one primary-key read per batch
-- instead of reading every participant (a send to a room of 1,000 read 1,000 rows).
--
-- Triggers keep it, so no code path that changes participants can forget to. It is a table of
-- its own, not a column of `conversation`: the committer holds conversation rows locked while
-- it waits for the event counter, and a participant change holds the counter while its trigger
-- writes here, so a column there would deadlock the two. The committer only reads this table.
-- No foreign key: rows are never deleted with their conversation, and a stale row only costs a
-- few bytes. A conversation with no row has version 0; the first change writes 1.
create table member_version (
    conversation_id bigint primary key,
    version bigint not null
);

create function bump_member_version(conversation bigint) returns void
language sql as $$
    insert into member_version (conversation_id, version) values (conversation, 1)
    on conflict (conversation_id) do update set version = member_version.version + 1;
$$;

create function participant_bumps_member_version() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform bump_member_version(old.conversation_id);
    end if;
    if tg_op = 'UPDATE' and new.conversation_id <> old.conversation_id or tg_op = 'INSERT' then
        perform bump_member_version(new.conversation_id);
    end if;
    return null;
end;
$$;

-- Every column a member list is built from; read and delivery marks are left out, as they
-- change on every read receipt and do not change who receives what.
create trigger participant_bumps_member_version
after insert or delete or update of conversation_id, account_id, role, visibility,
    history_from_seq, joined_event_id, left_event_id, left_at
on participant
for each row execute function participant_bumps_member_version();
