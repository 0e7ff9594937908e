//! The agent workspace's API end to end through the real binary on both backends: inbox views,
//! search, sort, pagination and counts; labels; bulk actions; canned responses; preferences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, Backend, Client, Server};
use serde_json::{Value, json};

/// Creates an agent with a read/write token; returns (id, api, token).
async fn agent(server: &Server, name: &str) -> (i64, Api, String) {
    let (status, staff) = server
        .admin()
        .post(
            "/v1/staff",
            json!({"email": format!("{name}@example.com"), "name": name, "role": "agent"}),
        )
        .await;
    assert_eq!(status, 201, "{staff}");
    let id = staff["id"].as_i64().unwrap();
    let (status, token) = server
        .admin()
        .post(
            &format!("/v1/staff/{id}/tokens"),
            // `contacts`: correcting a contact's details is contact management.
            json!({"name": "t", "scopes": ["read", "write", "contacts"]}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().unwrap().to_string();
    (id, server.api(&token), token)
}

/// A contact with a name and email opens a support chat and writes in it; returns
/// (contact id, their api, conversation id).
async fn chat(
    server: &Server,
    name: &str,
    email: &str,
    subject: &str,
    says: &[&str],
) -> (i64, Api, i64) {
    let (status, contact) = server
        .admin()
        .post(
            "/v1/contacts",
            json!({"external_id": email, "name": name, "email": email}),
        )
        .await;
    assert_eq!(status, 200, "{contact}");
    let id = contact["id"].as_i64().unwrap();
    let (status, token) = server
        .admin()
        .post(&format!("/v1/contacts/{id}/tokens"), json!(null))
        .await;
    assert_eq!(status, 201, "{token}");
    let api = server.api(token["token"].as_str().unwrap());
    let (status, created) = api
        .post(
            "/v1/conversations",
            json!({"kind": "support", "subject": subject}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let conversation = created["conversation"]["id"].as_i64().unwrap();
    for text in says {
        let (status, body) = api
            .post(
                &format!("/v1/conversations/{conversation}/messages"),
                json!({"body": text}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    (id, api, conversation)
}

async fn inbox(api: &Api, query: &str) -> Value {
    let (status, page) = api.get(&format!("/v1/inbox{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    page
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["conversation"]["id"].as_i64().unwrap())
        .collect()
}

async fn create_canned(api: &Api, body: Value) -> (u16, Value) {
    api.post("/v1/canned-responses", body).await
}

async fn bulk(api: &Api, body: Value) -> (u16, Value) {
    api.post("/v1/conversations/bulk", body).await
}

both_backends!(
    the_inbox_views_search_sort_and_pages_show_each_staff_member_the_right_conversations,
    the_inbox_views_search_sort_and_pages_show_each_staff_member_the_right_conversations
);
async fn the_inbox_views_search_sort_and_pages_show_each_staff_member_the_right_conversations(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let (amy_id, amy, _) = agent(&server, "amy").await;
    let (_, ada_api, refund) = chat(
        &server,
        "Ada Lovelace",
        "ada@example.com",
        "Refund please",
        &["I was charged twice", "Any news?"],
    )
    .await;
    let (_, _, shipping) = chat(
        &server,
        "Bob Stone",
        "bob@example.com",
        "Where is my parcel",
        &["It is late"],
    )
    .await;

    // Amy takes Bob's chat; she has not read it yet.
    let (status, done) = bulk(
        &amy,
        json!({"conversation_ids": [shipping], "action": "assign"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["results"][0]["ok"], true, "{done}");

    let all = inbox(&amy, "").await;
    assert_eq!(ids(&all), vec![shipping, refund], "newest activity first");
    let row = &all["items"][0];
    assert_eq!(row["contact"]["name"], "Bob Stone");
    assert_eq!(row["contact"]["email"], "bob@example.com");
    assert_eq!(row["assignees"][0]["id"], amy_id);
    assert_eq!(row["last_message"]["body"], "It is late");
    assert_eq!(row["unread"], 1, "{row}");
    assert_eq!(
        all["items"][1]["unread"], 2,
        "a chat Amy is not in: all of it"
    );
    assert_eq!(all["items"][1]["assignees"], json!([]));

    assert_eq!(ids(&inbox(&amy, "?view=mine").await), vec![shipping]);
    assert_eq!(ids(&inbox(&amy, "?view=unassigned").await), vec![refund]);
    assert_eq!(
        ids(&inbox(&amy, "?sort=waiting").await),
        vec![refund, shipping]
    );
    // Search matches the subject, the contact's name and their email, whatever the case.
    assert_eq!(ids(&inbox(&amy, "?q=REFUND").await), vec![refund]);
    assert_eq!(ids(&inbox(&amy, "?q=stone").await), vec![shipping]);
    assert_eq!(ids(&inbox(&amy, "?q=ada%40example").await), vec![refund]);
    // A wildcard typed by the user is a character, not a pattern.
    assert_eq!(ids(&inbox(&amy, "?q=%25").await), Vec::<i64>::new());

    // Reading clears Amy's unread count.
    let (status, _) = amy
        .post(
            &format!("/v1/conversations/{shipping}/read"),
            json!({"seq": 1}),
        )
        .await;
    assert!((200..300).contains(&status), "{status}");
    assert_eq!(inbox(&amy, "?view=mine").await["items"][0]["unread"], 0);

    // Pages of one walk the inbox without repeats or gaps, in both orders.
    for (sort, expected) in [
        ("activity", vec![shipping, refund]),
        ("waiting", vec![refund, shipping]),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("?limit=1&sort={sort}&cursor={c}"),
                None => format!("?limit=1&sort={sort}"),
            };
            let page = inbox(&amy, &query).await;
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{sort}");
    }

    // Counts follow the views.
    let (status, counts) = amy.get("/v1/inbox/counts").await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(
        (
            &counts["all"],
            &counts["mine"],
            &counts["unassigned"],
            &counts["unread_mine"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "{counts}"
    );
    let (status, _) = ada_api
        .post(
            &format!("/v1/conversations/{refund}/messages"),
            json!({"body": "Hello?"}),
        )
        .await;
    assert_eq!(status, 201);

    // Bad parameters are refused with their own codes; contacts have no inbox.
    for (query, status, code) in [
        ("?view=theirs", 400, "invalid_field"),
        ("?sort=alphabetical", 400, "invalid_field"),
        ("?status=closed", 400, "invalid_field"),
        ("?limit=0", 400, "invalid_field"),
        ("?cursor=nonsense", 400, "invalid_field"),
        ("?unknown=1", 400, "invalid_field"),
    ] {
        let (got, body) = amy.get(&format!("/v1/inbox{query}")).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
    let long = "x".repeat(101);
    let (got, body) = amy.get(&format!("/v1/inbox?q={long}")).await;
    assert_eq!(
        (got, body["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    let (got, _) = ada_api.get("/v1/inbox").await;
    assert_eq!(got, 403);
}

both_backends!(
    labels_are_set_filtered_counted_and_announced_to_staff,
    labels_are_set_filtered_counted_and_announced_to_staff
);
async fn labels_are_set_filtered_counted_and_announced_to_staff(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, amy, amy_token) = agent(&server, "amy").await;
    let (_, ada_api, refund) = chat(&server, "Ada", "ada@example.com", "Refund", &["hi"]).await;
    let (_, _, other) = chat(&server, "Bob", "bob@example.com", "Parcel", &["hi"]).await;
    let mut socket = Client::connect(&server, &amy_token, None).await;

    let (status, stored) = amy
        .call(
            "PUT",
            &format!("/v1/conversations/{refund}/labels"),
            Some(json!({"labels": [" VIP ", "vip", "billing"]})),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored, json!({"labels": ["VIP", "billing"]}));
    let changed = socket.next_of("inbox_changed").await;
    assert_eq!(changed["conversation"]["id"], refund, "{changed}");

    let (status, _) = bulk(
        &amy,
        json!({"conversation_ids": [refund, other], "action": "label", "label": "billing"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&inbox(&amy, "?label=vip").await), vec![refund]);
    let mut billing = ids(&inbox(&amy, "?label=BILLING").await);
    billing.sort_unstable();
    assert_eq!(billing, vec![refund, other]);
    let page = inbox(&amy, "?label=vip").await;
    assert_eq!(
        page["items"][0]["labels"],
        json!(["VIP", "billing"]),
        "{page}"
    );

    let (status, labels) = amy.get("/v1/labels").await;
    assert_eq!(status, 200);
    assert_eq!(
        labels["items"],
        json!([{"label": "billing", "count": 2}, {"label": "VIP", "count": 1}]),
        "most used first"
    );
    let (_, counts) = amy.get("/v1/inbox/counts").await;
    assert_eq!(counts["by_label"], labels["items"], "{counts}");

    let (status, _) = bulk(
        &amy,
        json!({"conversation_ids": [refund], "action": "unlabel", "label": "vip"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&inbox(&amy, "?label=vip").await), Vec::<i64>::new());

    // Limits, and who may label.
    let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    for labels in [json!(many), json!(["   "]), json!(["x".repeat(41)])] {
        let (status, body) = amy
            .call(
                "PUT",
                &format!("/v1/conversations/{refund}/labels"),
                Some(json!({"labels": labels})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_field")),
            "{body}"
        );
    }
    let (status, _) = ada_api
        .call(
            "PUT",
            &format!("/v1/conversations/{refund}/labels"),
            Some(json!({"labels": ["mine"]})),
        )
        .await;
    assert_eq!(status, 403, "a contact never labels");
    let (status, _) = amy
        .call(
            "PUT",
            "/v1/conversations/999999/labels",
            Some(json!({"labels": ["x"]})),
        )
        .await;
    assert_eq!(status, 404);
}

both_backends!(
    bulk_actions_apply_to_each_conversation_on_its_own,
    bulk_actions_apply_to_each_conversation_on_its_own
);
async fn bulk_actions_apply_to_each_conversation_on_its_own(backend: Backend) {
    let server = Server::start(backend).await;
    let (amy_id, amy, _) = agent(&server, "amy").await;
    let (_, _, first) = chat(&server, "Ada", "ada@example.com", "One", &["hi"]).await;
    let (_, _, second) = chat(&server, "Bob", "bob@example.com", "Two", &["hi"]).await;

    let (status, done) = bulk(
        &amy,
        json!({"conversation_ids": [first, 999999, second], "action": "resolve"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["results"],
        json!([
            {"conversation_id": first, "ok": true, "code": null},
            {"conversation_id": 999999, "ok": false, "code": "not_found"},
            {"conversation_id": second, "ok": true, "code": null},
        ])
    );
    assert_eq!(ids(&inbox(&amy, "?status=resolved").await).len(), 2);
    let (_, counts) = amy.get("/v1/inbox/counts").await;
    assert_eq!(counts["all"], 0, "resolved chats are not counted: {counts}");

    let (status, _) = bulk(
        &amy,
        json!({"conversation_ids": [first], "action": "reopen"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = bulk(
        &amy,
        json!({"conversation_ids": [second], "action": "archive"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&inbox(&amy, "?status=open").await), vec![first]);
    assert_eq!(ids(&inbox(&amy, "?status=archived").await), vec![second]);

    // An admin assigns to Amy: she takes part and it is in her "mine" view.
    let (status, done) = bulk(
        &server.admin(),
        json!({"conversation_ids": [first], "action": "assign", "account_id": amy_id}),
    )
    .await;
    assert_eq!(
        (status, &done["results"][0]["ok"]),
        (200, &json!(true)),
        "{done}"
    );
    assert_eq!(ids(&inbox(&amy, "?view=mine").await), vec![first]);

    let hundred_and_one: Vec<i64> = (1..=101).collect();
    let (ada_id, _) = server.admin().contact("someone").await;
    for body in [
        json!({"conversation_ids": [], "action": "resolve"}),
        json!({"conversation_ids": hundred_and_one, "action": "resolve"}),
        json!({"conversation_ids": [first, first], "action": "resolve"}),
        json!({"conversation_ids": [first], "action": "explode"}),
        json!({"conversation_ids": [first], "action": "label"}),
        json!({"conversation_ids": [first], "action": "assign", "account_id": ada_id}),
    ] {
        let (status, answer) = bulk(&amy, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid_field")),
            "{body}: {answer}"
        );
    }
}

both_backends!(
    canned_responses_are_personal_or_shared_and_their_shortcuts_never_clash,
    canned_responses_are_personal_or_shared_and_their_shortcuts_never_clash
);
async fn canned_responses_are_personal_or_shared_and_their_shortcuts_never_clash(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, amy, _) = agent(&server, "amy").await;
    let (_, bob, _) = agent(&server, "bob").await;
    let admin = server.admin();

    let (status, mine) = create_canned(
        &amy,
        json!({"shortcut": "hi", "title": "Hello", "body": "Hi, I am Amy"}),
    )
    .await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(
        (mine["shared"].clone(), mine["owner_id"].is_i64()),
        (json!(false), true)
    );
    let (status, shared) = create_canned(
        &admin,
        json!({"shortcut": "refund", "title": "Refunds", "body": "Refunds take **5 days**.", "shared": true}),
    )
    .await;
    assert_eq!(status, 201, "{shared}");
    let (status, body) = create_canned(
        &amy,
        json!({"shortcut": "policy", "title": "P", "body": "B", "shared": true}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));

    let shortcuts = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["shortcut"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, amy_list) = amy.get("/v1/canned-responses").await;
    assert_eq!(shortcuts(&amy_list), vec!["hi", "refund"]);
    let (_, bob_list) = bob.get("/v1/canned-responses").await;
    assert_eq!(shortcuts(&bob_list), vec!["refund"], "Amy's own stay hers");

    // Shortcuts are unique among what one person sees.
    for (api, body) in [
        (
            &amy,
            json!({"shortcut": "refund", "title": "T", "body": "B"}),
        ),
        (&amy, json!({"shortcut": "hi", "title": "T", "body": "B"})),
        (
            &admin,
            json!({"shortcut": "hi", "title": "T", "body": "B", "shared": true}),
        ),
    ] {
        let (status, answer) = create_canned(api, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("conflict")),
            "{body}"
        );
    }
    let (status, _) = create_canned(
        &bob,
        json!({"shortcut": "hi", "title": "T", "body": "Bob's"}),
    )
    .await;
    assert_eq!(status, 201, "another agent's personal shortcut is free");

    for (body, status, code) in [
        (
            json!({"shortcut": "Hi There", "title": "T", "body": "B"}),
            400,
            "invalid_field",
        ),
        (
            json!({"shortcut": "t", "title": " ", "body": "B"}),
            400,
            "invalid_field",
        ),
        (
            json!({"shortcut": "t", "title": "T", "body": "x".repeat(5001)}),
            413,
            "too_large",
        ),
    ] {
        let (got, answer) = create_canned(&amy, body.clone()).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }

    let mine_path = format!("/v1/canned-responses/{}", mine["id"]);
    let shared_path = format!("/v1/canned-responses/{}", shared["id"]);
    let (status, changed) = amy
        .call("PATCH", &mine_path, Some(json!({"body": "Hi, Amy here"})))
        .await;
    assert_eq!(
        (status, changed["body"].as_str()),
        (200, Some("Hi, Amy here"))
    );
    let (status, _) = bob
        .call("PATCH", &mine_path, Some(json!({"body": "x"})))
        .await;
    assert_eq!(
        status, 404,
        "someone else's personal response does not exist for you"
    );
    let (status, _) = admin.call("DELETE", &mine_path, None).await;
    assert_eq!(status, 404, "not even for the owner");
    let (status, _) = amy
        .call("PATCH", &shared_path, Some(json!({"title": "x"})))
        .await;
    assert_eq!(status, 403);
    let (status, _) = admin
        .call(
            "PATCH",
            &shared_path,
            Some(json!({"title": "Refund policy"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = amy.call("DELETE", &mine_path, None).await;
    assert_eq!(status, 204);
    let (_, amy_list) = amy.get("/v1/canned-responses").await;
    assert_eq!(shortcuts(&amy_list), vec!["refund"]);
    assert_eq!(amy_list["items"][0]["title"], "Refund policy");
}

both_backends!(
    preferences_start_as_defaults_and_persist_per_staff_member,
    preferences_start_as_defaults_and_persist_per_staff_member
);
async fn preferences_start_as_defaults_and_persist_per_staff_member(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, amy, _) = agent(&server, "amy").await;
    let (_, bob, _) = agent(&server, "bob").await;
    let (status, defaults) = amy.get("/v1/me/preferences").await;
    assert_eq!(status, 200);
    assert_eq!(
        defaults,
        json!({"desktop": true, "volume": 70, "muted_until": null, "quiet_hours": null,
               "muted_conversations": [],
               "sounds": {"new_conversation": true, "new_message": true, "assigned": true}})
    );
    let mut wanted = defaults.clone();
    wanted["volume"] = json!(25);
    wanted["sounds"]["new_message"] = json!(false);
    wanted["muted_until"] = json!(1_900_000_000_000_i64);
    wanted["quiet_hours"] = json!({"start": "22:00", "end": "07:30", "time_zone": "Europe/London"});
    wanted["muted_conversations"] = json!([4, 9]);
    let (status, saved) = amy
        .call("PUT", "/v1/me/preferences", Some(wanted.clone()))
        .await;
    assert_eq!((status, &saved), (200, &wanted));
    let (_, again) = amy.get("/v1/me/preferences").await;
    assert_eq!(again, wanted);
    let (_, bobs) = bob.get("/v1/me/preferences").await;
    assert_eq!(bobs, defaults, "preferences are per person");

    let mut bad_zone = wanted.clone();
    bad_zone["quiet_hours"]["time_zone"] = json!("Mars/Olympus");
    let mut loud = wanted.clone();
    loud["volume"] = json!(101);
    let mut late = wanted.clone();
    late["quiet_hours"]["start"] = json!("25:00");
    let mut extra = wanted.clone();
    extra["theme"] = json!("dark");
    for (body, code) in [
        (bad_zone, "invalid_field"),
        (late, "invalid_field"),
        (loud, "invalid_field"),
        (extra, "malformed_request"),
    ] {
        let (status, answer) = amy
            .call("PUT", "/v1/me/preferences", Some(body.clone()))
            .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let (_, unchanged) = amy.get("/v1/me/preferences").await;
    assert_eq!(unchanged, wanted, "a refused write changes nothing");
}

both_backends!(
    staff_correct_a_contacts_details_but_not_a_verified_name,
    staff_correct_a_contacts_details_but_not_a_verified_name
);
async fn staff_correct_a_contacts_details_but_not_a_verified_name(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, amy, _) = agent(&server, "amy").await;
    let (ada_id, ada_api, _) = chat(&server, "Ada", "ada@example.com", "Hi", &["hi"]).await;
    let path = format!("/v1/contacts/{ada_id}");

    // Ada was created by the platform (external id): verified, so her name is the platform's.
    let (status, refused) = amy
        .call("PATCH", &path, Some(json!({"name": "Ada King"})))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("conflict")),
        "{refused}"
    );
    let (status, saved) = amy
        .call(
            "PATCH",
            &path,
            Some(json!({"phone": "+44 20 7946 0000", "company": "Analytical"})),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["contact"]["name"], "Ada");
    let (status, context) = amy.get(&format!("/v1/contacts/{ada_id}/context")).await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["profile"]["phone"], "+44 20 7946 0000");
    assert_eq!(context["profile"]["company"], "Analytical");

    // A contact nobody vouched for: staff fix the name and email they typed.
    let (status, walk_in) = server
        .admin()
        .post("/v1/contacts", json!({"name": "walk in"}))
        .await;
    assert_eq!(status, 200, "{walk_in}");
    assert_ne!(walk_in["identity"], "verified", "{walk_in}");
    let (status, saved) = amy
        .call(
            "PATCH",
            &format!("/v1/contacts/{}", walk_in["id"]),
            Some(json!({"name": "Walter Inn", "email": "walter@example.com"})),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (&saved["contact"]["name"], &saved["contact"]["email"]),
        (&json!("Walter Inn"), &json!("walter@example.com"))
    );

    for (body, status, code) in [
        (json!({"email": "not an email"}), 400, "invalid_field"),
        (json!({"company": " "}), 400, "invalid_field"),
        (json!({"company": "x".repeat(201)}), 413, "too_large"),
        (json!({"nickname": "Ada"}), 400, "malformed_request"),
    ] {
        let (got, answer) = amy.call("PATCH", &path, Some(body.clone())).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, _) = ada_api
        .call("PATCH", &path, Some(json!({"name": "Me"})))
        .await;
    assert_eq!(status, 403, "contacts do not edit themselves here");
    let (me, _) = (amy.me().await, ());
    let (status, _) = amy
        .call(
            "PATCH",
            &format!("/v1/contacts/{me}"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404, "a staff member is no contact");
}
