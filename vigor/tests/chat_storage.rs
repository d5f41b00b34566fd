//! Chat through the real binary with its messages in CQL (`social.messages = cql`,
//! Cassandra under `.ci/test`): the service creates its keyspace at start, sends
//! are stored there (a retried `client_msg_id` once), history pages back through
//! it, and `/readyz` checks it.

mod support;

use serde_json::{json, Value};
use support::{http, sign_up_and_get_token, Vigor};
use vigor_common::config::social::{CqlConfig, MessageBackend};
use vigor_common::config::SocialConfig;
use vigor_common::Id;
use vigor_social::messages::cql::{CqlMessages, CqlSettings};
use vigor_social::messages::MessageStore;

#[tokio::test]
async fn chat_messages_live_in_the_cql_store() {
    let Some(target) = vigor_common::testkit::cql_keyspace() else {
        return;
    };
    let vigor = Vigor::serve(
        &[],
        &[
            ("VIGOR_SOCIAL_MESSAGES", "cql"),
            ("VIGOR_SOCIAL_CQL_NODES", &target.uri),
            ("VIGOR_SOCIAL_CQL_KEYSPACE", &target.keyspace),
        ],
    );
    let base = &vigor.url;
    let client = http();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());

    let token = sign_up_and_get_token(base, "chat-cql@example.org").await;
    let community: Value = client
        .post(format!("{base}/v1/social/communities"))
        .bearer_auth(&token)
        .json(&json!({"name": "Runners", "visibility": "public"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let community = community["id"].as_str().expect("a community id").to_owned();
    let channels: Value = client
        .get(format!("{base}/v1/social/communities/{community}/channels"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channel = channels["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["name"] == "general"))
        .and_then(|c| c["id"].as_str())
        .expect("the general channel")
        .to_owned();

    let messages = format!("{base}/v1/social/channels/{channel}/messages");
    let mut sent = Vec::new();
    for (body, client_msg_id) in [
        ("one", "c-1"),
        ("two", "c-2"),
        ("two", "c-2"),
        ("three", "c-3"),
    ] {
        let response = client
            .post(&messages)
            .bearer_auth(&token)
            .json(&json!({"body": body, "client_msg_id": client_msg_id}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let message: Value = response.json().await.unwrap();
        assert_eq!(message["body"], body);
        assert_eq!(message["channel_id"], channel.as_str());
        sent.push(message["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(sent[1], sent[2], "the retried send is the stored message");

    // Newest first, two to a page, following next_cursor to the end.
    let mut seen = Vec::new();
    let mut url = format!("{messages}?limit=2");
    loop {
        let page: Value = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{messages}?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![sent[3].clone(), sent[1].clone(), sent[0].clone()]
    );

    // They are in the keyspace, not in the SQL database.
    let social = SocialConfig {
        messages: MessageBackend::Cql,
        cql: CqlConfig {
            nodes: vec![target.uri.clone()],
            keyspace: target.keyspace.clone(),
            ..CqlConfig::default()
        },
        ..SocialConfig::default()
    };
    let settings = CqlSettings::from_config(&social).unwrap();
    let store = CqlMessages::open(settings, false)
        .await
        .expect("the service made its keyspace");
    let channel: Id = channel.parse().unwrap();
    for id in &sent {
        let stored = store.get(channel, id.parse().unwrap()).await.unwrap();
        assert!(stored.is_some(), "message {id} is in the CQL store");
    }
}
