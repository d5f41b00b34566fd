//! The one conformance suite of [`AccountStore`], run on SQLite and on PostgreSQL.

use chrono::{Duration, Utc};
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::db::Database;
use vigor_common::{Id, IdGenerator};

use super::*;

vigor_common::sql_conformance!(Some(&crate::MIGRATIONS);
    status_is_set,
    deleting_an_account_erases_its_sessions_and_codes,
    other_families_are_revoked_and_listed,
    passwords_and_emails_change,
);

fn now() -> Timestamp {
    instant(millis(Utc::now())).unwrap()
}

fn credential(ids: &IdGenerator, email: &str) -> Credential {
    let now = now();
    Credential {
        user_id: ids.next_id(),
        email: email.to_owned(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".to_owned(),
        display_name: "Ann".to_owned(),
        roles: vec!["user".to_owned()],
        status: AccountStatus::Active,
        created_at: now,
        updated_at: now,
    }
}

fn family(ids: &IdGenerator, user: Id) -> RefreshFamily {
    RefreshFamily {
        id: ids.next_id(),
        user_id: user,
        client_id: "vigor-web".to_owned(),
        scope: "offline_access".to_owned(),
        created_at: now(),
        revoked_at: None,
    }
}

fn token(hash: &str) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: hash.to_owned(),
        created_at: now(),
        expires_at: now() + Duration::days(1),
    }
}

fn event(ids: &IdGenerator) -> Event {
    Event {
        id: ids.next_id(),
        name: "user.email_changed".to_owned(),
        occurred_at: Utc::now(),
        data: serde_json::json!({}),
    }
}

async fn outbox_topics(db: &Database) -> Vec<String> {
    let sql = "SELECT topic FROM outbox ORDER BY id";
    vigor_common::on_pool!(db, pool => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap())
}

async fn stored(store: &SqlStore, ids: &IdGenerator, email: &str) -> Credential {
    let c = credential(ids, email);
    store.insert_credential(&c, &[]).await.unwrap();
    c
}

async fn status_is_set(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let ann = stored(&store, &ids, "ann@example.org").await;
    assert!(store
        .set_status(ann.user_id, AccountStatus::Disabled, now())
        .await
        .unwrap());
    let read = store.credential(ann.user_id).await.unwrap().unwrap();
    assert_eq!(read.status, AccountStatus::Disabled);
    assert!(!store
        .set_status(ids.next_id(), AccountStatus::Disabled, now())
        .await
        .unwrap());
}

async fn deleting_an_account_erases_its_sessions_and_codes(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let ann = stored(&store, &ids, "ann@example.org").await;
    let bob = stored(&store, &ids, "bob@example.org").await;
    let (fa, fb) = (family(&ids, ann.user_id), family(&ids, bob.user_id));
    store.create_family(&fa, &token("ta")).await.unwrap();
    store.create_family(&fb, &token("tb")).await.unwrap();
    let code = AuthorizationCode {
        code_hash: "ca".to_owned(),
        client_id: "vigor-web".to_owned(),
        user_id: ann.user_id,
        redirect_uri: "http://127.0.0.1/cb".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        scope: "api".to_owned(),
        created_at: now(),
        expires_at: now() + Duration::seconds(60),
    };
    store.insert_code(&code).await.unwrap();
    let window = Duration::minutes(15);
    store
        .record_login_failure("account:ann@example.org", now(), window)
        .await
        .unwrap();
    // Her counts per client address go too; others' that merely start alike stay.
    let kept = [
        "account:ann@example.org.uk from 10.0.0.1",
        "account:bob@example.org from 10.0.0.1",
    ];
    for key in [
        "account:ann@example.org from 10.0.0.1",
        "account:ann@example.org from ::1",
    ]
    .into_iter()
    .chain(kept)
    {
        store
            .record_login_failure(key, now(), window)
            .await
            .unwrap();
    }

    assert!(store.delete_account(ann.user_id).await.unwrap());
    assert_eq!(store.credential(ann.user_id).await.unwrap(), None);
    assert_eq!(store.refresh_token("ta").await.unwrap(), None);
    assert_eq!(store.family(fa.id).await.unwrap(), None);
    assert_eq!(
        store.redeem_code("ca", now()).await.unwrap(),
        CodeRedemption::Unknown
    );
    for (key, count) in [
        ("account:ann@example.org", 0),
        ("account:ann@example.org from 10.0.0.1", 0),
        ("account:ann@example.org from ::1", 0),
        (kept[0], 1),
        (kept[1], 1),
    ] {
        let failures = store.login_failures(key, now(), window).await.unwrap();
        assert_eq!(failures.count, count, "{key}");
    }
    // The email is free again; Bob is untouched.
    stored(&store, &ids, "ann@example.org").await;
    assert!(store.refresh_token("tb").await.unwrap().is_some());
    assert!(store.credential(bob.user_id).await.unwrap().is_some());
    assert!(!store.delete_account(ann.user_id).await.unwrap());
}

async fn other_families_are_revoked_and_listed(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let ann = ids.next_id();
    let bob = ids.next_id();
    let f1 = family(&ids, ann);
    let f2 = family(&ids, ann);
    let f3 = family(&ids, ann);
    let fb = family(&ids, bob);
    for (f, t) in [(&f1, "t1"), (&f2, "t2"), (&f3, "t3"), (&fb, "tb")] {
        store.create_family(f, &token(t)).await.unwrap();
    }
    assert_eq!(
        store
            .revoke_other_families(ann, Some(f2.id), now())
            .await
            .unwrap(),
        2
    );
    let listed = store.user_families(ann).await.unwrap();
    let listed_ids: Vec<Id> = listed.iter().map(|f| f.id).collect();
    assert_eq!(listed_ids, [f3.id, f2.id, f1.id]);
    let active: Vec<Id> = listed
        .iter()
        .filter(|f| f.revoked_at.is_none())
        .map(|f| f.id)
        .collect();
    assert_eq!(active, [f2.id]);
    assert!(store
        .refresh_token("tb")
        .await
        .unwrap()
        .unwrap()
        .is_active(now()));
    // Without a session to keep, every one goes.
    assert_eq!(
        store.revoke_other_families(ann, None, now()).await.unwrap(),
        1
    );
    assert!(store.user_families(bob).await.unwrap()[0]
        .revoked_at
        .is_none());
}

async fn passwords_and_emails_change(db: Database) {
    let store = SqlStore::new(db.clone());
    let ids = IdGenerator::new(1).unwrap();
    let ann = stored(&store, &ids, "ann@example.org").await;
    stored(&store, &ids, "bob@example.org").await;
    assert!(store
        .set_password_hash(ann.user_id, "$argon2id$new", now())
        .await
        .unwrap());
    let read = store.credential(ann.user_id).await.unwrap().unwrap();
    assert_eq!(read.password_hash, "$argon2id$new");

    assert!(matches!(
        store
            .set_email(ann.user_id, "bob@example.org", &[event(&ids)], now())
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(outbox_topics(&db).await.is_empty());
    assert!(store
        .set_email(ann.user_id, "annie@example.org", &[event(&ids)], now())
        .await
        .unwrap());
    assert_eq!(
        store
            .credential_by_email("annie@example.org")
            .await
            .unwrap()
            .map(|c| c.user_id),
        Some(ann.user_id)
    );
    assert_eq!(outbox_topics(&db).await, ["user.email_changed"]);
    assert!(!store
        .set_email(ids.next_id(), "carl@example.org", &[event(&ids)], now())
        .await
        .unwrap());
    assert_eq!(outbox_topics(&db).await.len(), 1);
}
