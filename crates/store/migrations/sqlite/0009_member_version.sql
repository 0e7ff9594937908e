-- A number per conversation that changes whenever its member list can have changed, so that the
-- committer can keep member lists in memory and check them with one primary-key read per batch
-- instead of reading every participant (a send to a room of 1,000 read 1,000 rows).
--
-- Triggers keep it, so no code path that changes participants can forget to. No foreign key:
-- rows are never deleted with their conversation, and a stale row only costs a few bytes.
-- A conversation with no row has version 0; the first change writes 1.
create table member_version (
    conversation_id integer primary key,
    version integer not null
);

-- Every column a member list is built from; read and delivery marks are left out, as they
-- change on every read receipt and do not change who receives what.
create trigger participant_inserted_bumps_member_version
after insert on participant
begin
    insert into member_version (conversation_id, version) values (new.conversation_id, 1)
    on conflict (conversation_id) do update set version = version + 1;
end;

create trigger participant_changed_bumps_member_version
after update of conversation_id, account_id, role, visibility, history_from_seq,
    joined_event_id, left_event_id, left_at on participant
begin
    insert into member_version (conversation_id, version) values (new.conversation_id, 1)
    on conflict (conversation_id) do update set version = version + 1;
    insert into member_version (conversation_id, version) values (old.conversation_id, 1)
    on conflict (conversation_id) do update set version = version + 1;
end;

create trigger participant_deleted_bumps_member_version
after delete on participant
begin
    insert into member_version (conversation_id, version) values (old.conversation_id, 1)
    on conflict (conversation_id) do update set version = version + 1;
end;
