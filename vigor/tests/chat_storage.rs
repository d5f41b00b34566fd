//! Chat through the real binary with its messages in CQL (`social.messages = cql`,
//! Cassandra under `.ci/test`): `vigor migrate` creates the keyspace, the service
//! creates it at start too, sends are stored there (a retried `client_msg_id`
//! once), history pages back through it, and `/readyz` checks it.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{command, http, rest, sign_up_and_get_token, Vigor};
use vigor_common::config::social::{CqlConfig, MessageBackend};
use vigor_common::config::SocialConfig;
use vigor_common::testkit::CqlKeyspace;
use vigor_common::Id;
use vigor_social::messages::cql::{CqlMessages, CqlSettings};
use vigor_social::messages::{MessageBody, MessageStore, NewMessage};

/// The settings the binary builds from `VIGOR_SOCIAL_*` for `target`.
fn settings(target: &CqlKeyspace) -> CqlSettings {
    let social = SocialConfig {
        messages: MessageBackend::Cql,
        cql: CqlConfig {
            nodes: vec![target.uri.clone()],
            keyspace: target.keyspace.clone(),
            ..CqlConfig::default()
        },
        ..SocialConfig::default()
    };
    CqlSettings::from_config(&social).expect("valid settings")
}

/// The environment that puts the messages of a `vigor` process in `target`.
fn cql_env(target: &CqlKeyspace) -> [(&'static str, &str); 3] {
    [
        ("VIGOR_SOCIAL_MESSAGES", "cql"),
        ("VIGOR_SOCIAL_CQL_NODES", &target.uri),
        ("VIGOR_SOCIAL_CQL_KEYSPACE", &target.keyspace),
    ]
}

#[tokio::test]
async fn migrate_creates_the_chat_keyspace_when_messages_live_in_cql() {
    let Some(target) = vigor_common::testkit::cql_keyspace() else {
        return;
    };
    assert!(
        CqlMessages::open(settings(&target), false).await.is_err(),
        "the keyspace does not exist before `vigor migrate`"
    );
    let data = tempfile::tempdir().unwrap();
    // Twice: the second run finds everything in place.
    for _ in 0..2 {
        let output = command()
            .arg("migrate")
            .env("VIGOR_DATA_DIR", data.path())
            .envs(cql_env(&target))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let ready = format!("social: chat keyspace {} ready", target.keyspace);
        assert!(stdout.contains(&ready), "{stdout}");
    }
    // The service opens it without migrating, and it stores messages.
    let store = CqlMessages::open(settings(&target), false).await.unwrap();
    let id = vigor_common::IdGenerator::new(7).unwrap().next_id();
    let channel = Id::from_i64(1);
    store
        .append(NewMessage {
            id,
            channel_id: channel,
            author_id: Id::from_i64(2),
            body: MessageBody::parse("hello").unwrap(),
            client_msg_id: None,
            reply_to: None,
        })
        .await
        .unwrap();
    assert_eq!(store.get(channel, id).await.unwrap().unwrap().body, "hello");
}

#[tokio::test]
async fn chat_messages_live_in_the_cql_store() {
    let Some(target) = vigor_common::testkit::cql_keyspace() else {
        return;
    };
    let vigor = Vigor::serve(&[], &cql_env(&target));
    let base = &vigor.url;
    let ready = http().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());

    let token = sign_up_and_get_token(base, "chat-cql@example.org").await;
    let communities = format!("{base}/v1/social/communities");
    let new = json!({"name": "Runners", "visibility": "public"});
    let (status, community) = rest(&token, Method::POST, &communities, Some(new)).await;
    assert_eq!(status, 201, "{community}");
    let community = community["id"].as_str().expect("a community id");
    let channels_url = format!("{communities}/{community}/channels");
    let (status, channels) = rest(&token, Method::GET, &channels_url, None).await;
    assert_eq!(status, 200, "{channels}");
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
        let send = json!({"body": body, "client_msg_id": client_msg_id});
        let (status, message) = rest(&token, Method::POST, &messages, Some(send)).await;
        assert!((200..300).contains(&status), "{status}: {message}");
        assert_eq!(message["body"], body);
        assert_eq!(message["channel_id"], channel.as_str());
        sent.push(message["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(sent[1], sent[2], "the retried send is the stored message");

    // Newest first, two to a page, following next_cursor to the end.
    let mut seen = Vec::new();
    let mut url = format!("{messages}?limit=2");
    loop {
        let (status, page) = rest(&token, Method::GET, &url, None).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{messages}?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first = vec![sent[3].clone(), sent[1].clone(), sent[0].clone()];
    assert_eq!(seen, newest_first);

    // They are in the keyspace, not in the SQL database.
    let store = CqlMessages::open(settings(&target), false)
        .await
        .expect("the service made its keyspace");
    let channel: Id = channel.parse().unwrap();
    for id in &sent {
        let stored = store.get(channel, id.parse().unwrap()).await.unwrap();
        assert!(stored.is_some(), "message {id} is in the CQL store");
    }
}
