//! Search by display-name prefix, paginated.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{invalid_fields, TestApp};

crate::on_both_backends!(
    search_pages_through_every_match_once,
    search_validates_its_parameters,
    names_of_many_users_at_once,
);

async fn search_pages_through_every_match_once(app: TestApp) {
    let me = app.user("me@example.com", "Zed").await;
    let names = [
        "Anna",
        "anna",
        "ANNABEL",
        "Annie",
        "Anne-Marie",
        "Bob",
        "Hannah",
    ];
    let mut expected = HashSet::new();
    for (i, name) in names.iter().enumerate() {
        let user = app.user(&format!("u{i}@example.com"), name).await;
        if name.to_lowercase().starts_with("ann") {
            expected.insert(user.id);
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/v1/users?q=AnN&limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get_json(&path, &me).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            assert!(item.get("email").is_none());
            assert!(item["display_name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .starts_with("ann"));
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => break,
            other => panic!("bad cursor {other}"),
        }
        assert!(pages < 10, "the pages do not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), expected.len(), "no duplicates");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);

    // Deactivated accounts are not found.
    let all = app.get_json("/v1/users?q=zed", &me).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let response = app.post("/v1/users/me/deactivate", &me).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let none = app.get_json("/v1/users?q=zed", &me).await;
    assert!(none["items"].as_array().unwrap().is_empty());
}

async fn search_validates_its_parameters(app: TestApp) {
    let me = app.user("me@example.com", "Me").await;
    assert_eq!(invalid_fields(app.get("/v1/users", &me).await).await, ["q"]);
    assert_eq!(
        invalid_fields(app.get("/v1/users?q=%20", &me).await).await,
        ["q"]
    );
    assert_eq!(
        invalid_fields(app.get("/v1/users?q=a&limit=0", &me).await).await,
        ["limit"]
    );
    assert_eq!(
        invalid_fields(app.get("/v1/users?q=a&limit=101", &me).await).await,
        ["limit"]
    );
    // Garbage, and the old `<hex name>.<id>` cursors.
    for bad in ["zz", "616e6e.123"] {
        assert_eq!(
            invalid_fields(app.get(&format!("/v1/users?q=a&cursor={bad}"), &me).await).await,
            ["cursor"],
            "{bad}"
        );
    }
}

async fn names_of_many_users_at_once(app: TestApp) {
    let me = app.user("names-me@example.com", "Mia").await;
    let ann = app.user("names-ann@example.com", "Ann").await;
    let gone = app.user("names-gone@example.com", "Gone").await;
    let response = app.post("/v1/users/me/deactivate", &gone).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Asked order, duplicates once, deactivated and unknown accounts left out.
    let path = format!(
        "/v1/users/names?ids={},{},{},{},424242",
        ann.id, me.id, ann.id, gone.id
    );
    let page = app.get_json(&path, &me).await;
    let items = page["items"].as_array().unwrap();
    let pairs: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["display_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            (ann.id.to_string(), "Ann".to_owned()),
            (me.id.to_string(), "Mia".to_owned())
        ]
    );
    for bad in [
        "/v1/users/names",
        "/v1/users/names?ids=x",
        "/v1/users/names?ids=",
    ] {
        let response = app.get(bad, &me).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(invalid_fields(response).await, vec!["ids".to_owned()]);
    }
}
