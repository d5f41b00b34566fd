//! The one conformance suite of [`AuthStore`], run on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{Duration, Utc};
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::db::Database;
use vigor_common::{Id, IdGenerator};

use super::*;
use crate::domain::client::{Client, ClientKind, GrantType};

fn store(db: Database) -> SqlStore {
    SqlStore::new(db)
}

fn ids() -> IdGenerator {
    IdGenerator::new(1).unwrap()
}

/// Now, truncated to milliseconds (the stored precision).
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

fn client(id: &str) -> Client {
    Client {
        id: id.to_owned(),
        name: format!("Client {id}"),
        kind: ClientKind::Confidential,
        secret_hash: Some("ab".repeat(32)),
        redirect_uris: vec![
            "https://app.example/cb".to_owned(),
            "http://127.0.0.1/cb".to_owned(),
        ],
        grant_types: vec![GrantType::ClientCredentials, GrantType::AuthorizationCode],
        scopes: vec!["users:read".to_owned(), "api".to_owned()],
        first_party: false,
        any_loopback_redirect: false,
        created_at: now(),
    }
}

fn code(hash: &str, user: Id, client_id: &str) -> AuthorizationCode {
    let now = now();
    AuthorizationCode {
        code_hash: hash.to_owned(),
        client_id: client_id.to_owned(),
        user_id: user,
        redirect_uri: "https://app.example/cb".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        scope: "api".to_owned(),
        created_at: now,
        expires_at: now + Duration::seconds(60),
    }
}

fn family(ids: &IdGenerator, user: Id, client_id: &str) -> RefreshFamily {
    RefreshFamily {
        id: ids.next_id(),
        user_id: user,
        client_id: client_id.to_owned(),
        scope: "api offline_access".to_owned(),
        created_at: now(),
        revoked_at: None,
    }
}

/// Whether the stored refresh token `hash` is active now.
async fn active(store: &SqlStore, hash: &str) -> bool {
    let state = store.refresh_token(hash).await.unwrap();
    state.expect("the token is stored").is_active(now())
}

/// Rotates `old` to a new token `new` that lives a day.
async fn rotate(store: &SqlStore, old: &str, new: &str) -> Rotation {
    let next = token(new, Duration::days(1));
    store.rotate_refresh_token(old, &next, now()).await.unwrap()
}

fn token(hash: &str, ttl: Duration) -> NewRefreshToken {
    let now = now();
    NewRefreshToken {
        token_hash: hash.to_owned(),
        created_at: now,
        expires_at: now + ttl,
    }
}

fn key(kid: &str, state: KeyState) -> SigningKey {
    SigningKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".to_owned(),
        private_key: vec![1, 2, 3, kid.len() as u8],
        public_key: vec![9; 32],
        state,
        created_at: now(),
        retired_at: None,
    }
}

async fn outbox_topics(db: &Database) -> Vec<String> {
    let sql = "SELECT topic FROM outbox ORDER BY id";
    vigor_common::on_pool!(db, pool => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap())
}

fn event(ids: &IdGenerator, user: Id) -> Event {
    Event {
        id: ids.next_id(),
        name: "user.signed_up".to_owned(),
        occurred_at: Utc::now(),
        data: serde_json::json!({ "user_id": user }),
    }
}

async fn credentials_round_trip_and_emails_are_unique(db: Database) {
    let store = store(db.clone());
    let ids = ids();
    let ann = credential(&ids, "ann@example.org");
    store
        .insert_credential(&ann, &[event(&ids, ann.user_id)])
        .await
        .unwrap();
    assert_eq!(
        store.credential_by_email("ann@example.org").await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store.credential(ann.user_id).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store.credential_by_email("bob@example.org").await.unwrap(),
        None
    );
    assert_eq!(store.credential(ids.next_id()).await.unwrap(), None);
    assert_eq!(outbox_topics(&db).await, vec!["user.signed_up".to_owned()]);

    // A duplicate email stores neither the row nor its event.
    let twin = credential(&ids, "ann@example.org");
    let err = store
        .insert_credential(&twin, &[event(&ids, twin.user_id)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("email")), "{err:?}");
    assert_eq!(store.credential(twin.user_id).await.unwrap(), None);
    assert_eq!(outbox_topics(&db).await.len(), 1);
}

async fn roles_are_replaced(db: Database) {
    let store = store(db);
    let ids = ids();
    let ann = credential(&ids, "ann@example.org");
    store.insert_credential(&ann, &[]).await.unwrap();
    let later = now() + Duration::seconds(5);
    let roles = vec!["user".to_owned(), "coach".to_owned()];
    assert!(store.set_roles(ann.user_id, &roles, later).await.unwrap());
    let stored = store.credential(ann.user_id).await.unwrap().unwrap();
    assert_eq!(stored.roles, roles);
    assert_eq!(stored.updated_at, later);
    assert!(!store.set_roles(ids.next_id(), &roles, later).await.unwrap());
}

async fn clients_round_trip_and_deleting_one_removes_its_sessions(db: Database) {
    let store = store(db);
    let ids = ids();
    let reporting = client("reporting");
    let mut mobile = client("mobile");
    mobile.kind = ClientKind::Public;
    mobile.secret_hash = None;
    mobile.first_party = true;
    store.insert_client(&reporting).await.unwrap();
    store.insert_client(&mobile).await.unwrap();
    assert!(matches!(
        store.insert_client(&client("reporting")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.client("reporting").await.unwrap(),
        Some(reporting.clone())
    );
    assert_eq!(store.client("nobody").await.unwrap(), None);
    assert_eq!(
        store.clients().await.unwrap(),
        vec![mobile.clone(), reporting.clone()]
    );

    let user = ids.next_id();
    let fam = family(&ids, user, "mobile");
    store
        .create_family(&fam, &token("t1", Duration::days(1)))
        .await
        .unwrap();
    store
        .insert_code(&code("c1", user, "mobile"))
        .await
        .unwrap();

    assert!(store.delete_client("mobile").await.unwrap());
    assert!(!store.delete_client("mobile").await.unwrap());
    assert_eq!(store.client("mobile").await.unwrap(), None);
    assert_eq!(store.family(fam.id).await.unwrap(), None);
    assert_eq!(store.refresh_token("t1").await.unwrap(), None);
    assert_eq!(
        store.redeem_code("c1", now()).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert_eq!(store.clients().await.unwrap(), vec![reporting]);
}

async fn codes_are_spent_once_and_reuse_revokes_their_family(db: Database) {
    let store = store(db);
    let ids = ids();
    let user = ids.next_id();
    let issued = code("c1", user, "vigor-web");
    store.insert_code(&issued).await.unwrap();
    assert_eq!(
        store.redeem_code("nope", now()).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert_eq!(
        store.redeem_code("c1", now()).await.unwrap(),
        CodeRedemption::Redeemed(issued.clone())
    );
    assert_eq!(
        store.redeem_code("c1", now()).await.unwrap(),
        CodeRedemption::Reused {
            revoked_family: None
        }
    );

    let fam = family(&ids, user, "vigor-web");
    store
        .create_family(&fam, &token("t1", Duration::days(1)))
        .await
        .unwrap();
    store.link_code_family("c1", fam.id).await.unwrap();
    assert_eq!(
        store.redeem_code("c1", now()).await.unwrap(),
        CodeRedemption::Reused {
            revoked_family: Some(fam.id)
        }
    );
    assert!(store
        .family(fam.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

async fn concurrent_redemptions_of_one_code_succeed_once(db: Database) {
    let store = Arc::new(store(db));
    let ids = ids();
    store
        .insert_code(&code("c1", ids.next_id(), "vigor-web"))
        .await
        .unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.redeem_code("c1", now()).await.unwrap() })
        })
        .collect();
    let mut redeemed = 0;
    for attempt in attempts {
        if let CodeRedemption::Redeemed(_) = attempt.await.unwrap() {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 1);
}

async fn expired_codes_are_deleted(db: Database) {
    let store = store(db);
    let ids = ids();
    let mut old = code("old", ids.next_id(), "vigor-web");
    old.expires_at = now() - Duration::minutes(5);
    store.insert_code(&old).await.unwrap();
    store
        .insert_code(&code("fresh", ids.next_id(), "vigor-web"))
        .await
        .unwrap();
    assert_eq!(store.delete_expired_codes(now()).await.unwrap(), 1);
    assert_eq!(
        store.redeem_code("old", now()).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert!(matches!(
        store.redeem_code("fresh", now()).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(db: Database) {
    let store = store(db);
    let ids = ids();
    let fam = family(&ids, ids.next_id(), "vigor-web");
    store
        .create_family(&fam, &token("a", Duration::days(1)))
        .await
        .unwrap();
    let state = store.refresh_token("a").await.unwrap().unwrap();
    assert_eq!(state.family, fam);
    assert!(state.is_active(now()));

    assert_eq!(
        rotate(&store, "a", "b").await,
        Rotation::Rotated(fam.clone())
    );
    assert!(store.refresh_token("a").await.unwrap().unwrap().rotated);
    assert!(active(&store, "b").await);
    assert_eq!(
        rotate(&store, "b", "c").await,
        Rotation::Rotated(fam.clone())
    );

    // "a" was rotated before: presenting it again revokes the family…
    assert_eq!(
        rotate(&store, "a", "x").await,
        Rotation::Reused { family_id: fam.id }
    );
    // …so the current token "c" is dead too, and "x" was never stored.
    assert!(!active(&store, "c").await);
    assert_eq!(rotate(&store, "c", "y").await, Rotation::Invalid);
    assert_eq!(store.refresh_token("x").await.unwrap(), None);
    assert_eq!(rotate(&store, "unknown", "z").await, Rotation::Invalid);
}

async fn expired_refresh_tokens_do_not_rotate_and_are_deleted(db: Database) {
    let store = store(db);
    let ids = ids();
    let fam = family(&ids, ids.next_id(), "vigor-web");
    store
        .create_family(&fam, &token("old", Duration::seconds(-1)))
        .await
        .unwrap();
    assert_eq!(rotate(&store, "old", "new").await, Rotation::Invalid);
    assert!(!active(&store, "old").await);
    assert_eq!(store.delete_expired_refresh_tokens(now()).await.unwrap(), 1);
    assert_eq!(store.refresh_token("old").await.unwrap(), None);
}

async fn concurrent_rotations_of_one_token_succeed_once(db: Database) {
    let store = Arc::new(store(db));
    let ids = ids();
    let fam = family(&ids, ids.next_id(), "vigor-web");
    store
        .create_family(&fam, &token("a", Duration::days(1)))
        .await
        .unwrap();
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .rotate_refresh_token(
                        "a",
                        &token(&format!("next{i}"), Duration::days(1)),
                        now(),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for attempt in attempts {
        if let Rotation::Rotated(_) = attempt.await.unwrap() {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
    // The losers presented a rotated token: the family is revoked.
    assert!(store
        .family(fam.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

async fn families_are_revoked_one_by_one_or_per_user(db: Database) {
    let store = store(db);
    let ids = ids();
    let ann = ids.next_id();
    let bob = ids.next_id();
    let f1 = family(&ids, ann, "vigor-web");
    let f2 = family(&ids, ann, "mobile");
    let f3 = family(&ids, bob, "vigor-web");
    for (f, t) in [(&f1, "t1"), (&f2, "t2"), (&f3, "t3")] {
        store
            .create_family(f, &token(t, Duration::days(1)))
            .await
            .unwrap();
    }
    assert!(store.revoke_family(f1.id, now()).await.unwrap());
    assert!(!store.revoke_family(f1.id, now()).await.unwrap());
    assert!(!store.revoke_family(ids.next_id(), now()).await.unwrap());
    assert!(!active(&store, "t1").await);
    assert!(active(&store, "t2").await);

    assert_eq!(store.revoke_user_families(ann, now()).await.unwrap(), 1);
    assert!(!active(&store, "t2").await);
    assert!(active(&store, "t3").await);
}

async fn one_signing_key_is_active_and_rotation_retires_it(db: Database) {
    let store = store(db);
    assert!(store.signing_keys().await.unwrap().is_empty());
    let first = key("k1", KeyState::Active);
    store.insert_signing_key(&first).await.unwrap();
    assert!(matches!(
        store.insert_signing_key(&key("k2", KeyState::Active)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.signing_keys().await.unwrap(), vec![first.clone()]);

    let mut second = key("k2", KeyState::Active);
    second.created_at = first.created_at + Duration::seconds(1);
    let at = now();
    store.rotate_signing_key(&second, at).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], second);
    assert_eq!(keys[1].kid, "k1");
    assert_eq!(keys[1].state, KeyState::Retired);
    assert_eq!(keys[1].retired_at, Some(at));
    assert_eq!(keys[1].private_key, first.private_key);

    // A kid is never reused.
    assert!(matches!(
        store
            .rotate_signing_key(&key("k2", KeyState::Active), now())
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.signing_keys().await.unwrap()[0], second);

    assert_eq!(store.delete_retired_keys(at).await.unwrap(), 0);
    assert_eq!(
        store
            .delete_retired_keys(at + Duration::milliseconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.signing_keys().await.unwrap(), vec![second.clone()]);

    // A private key is replaced (sealed) only while it still is what was read.
    let sealed = [7u8; 40];
    assert!(!store
        .replace_private_key("k2", &[0, 0], &sealed)
        .await
        .unwrap());
    assert!(!store
        .replace_private_key("gone", &second.private_key, &sealed)
        .await
        .unwrap());
    assert!(store
        .replace_private_key("k2", &second.private_key, &sealed)
        .await
        .unwrap());
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored[0].private_key, sealed);
    assert_eq!(stored[0].public_key, second.public_key);
}

async fn login_failures_count_within_a_window(db: Database) {
    let store = store(db);
    let window = Duration::minutes(15);
    let t0 = now();
    assert_eq!(
        store
            .login_failures("account:ann", t0, window)
            .await
            .unwrap()
            .count,
        0
    );
    for expected in 1..=3 {
        let failures = store
            .record_login_failure("account:ann", t0, window)
            .await
            .unwrap();
        assert_eq!(failures.count, expected);
        assert_eq!(failures.window_start, t0);
    }
    assert_eq!(
        store
            .login_failures("account:ann", t0, window)
            .await
            .unwrap()
            .count,
        3
    );
    assert_eq!(
        store
            .login_failures("address:127.0.0.1", t0, window)
            .await
            .unwrap()
            .count,
        0
    );

    // After the window the count starts over.
    let later = t0 + window + Duration::seconds(1);
    assert_eq!(
        store
            .login_failures("account:ann", later, window)
            .await
            .unwrap()
            .count,
        0
    );
    let failures = store
        .record_login_failure("account:ann", later, window)
        .await
        .unwrap();
    assert_eq!((failures.count, failures.window_start), (1, later));

    store.clear_login_failures("account:ann").await.unwrap();
    assert_eq!(
        store
            .login_failures("account:ann", later, window)
            .await
            .unwrap()
            .count,
        0
    );
}

async fn concurrent_attempts_each_reserve_their_own_count(db: Database) {
    let store = Arc::new(store(db));
    let window = Duration::minutes(15);
    let t0 = now();
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .record_login_failure("account:ann", t0, window)
                    .await
                    .unwrap()
                    .count
            })
        })
        .collect();
    let mut counts = Vec::new();
    for attempt in attempts {
        counts.push(attempt.await.unwrap());
    }
    counts.sort_unstable();
    // One statement each: no two attempts saw the same count.
    assert_eq!(counts, (1..=20).collect::<Vec<u32>>());
}

async fn forgiven_attempts_leave_the_count_and_never_a_later_window(db: Database) {
    let store = store(db);
    let window = Duration::minutes(15);
    let t0 = now();
    for _ in 0..3 {
        store
            .record_login_failure("account:ann", t0, window)
            .await
            .unwrap();
    }
    let forgive = |subject, window_start| {
        let store = &store;
        async move {
            store
                .forgive_login_failure(subject, window_start)
                .await
                .unwrap()
        }
    };
    forgive("account:ann", t0).await;
    let count = |at| {
        let store = &store;
        async move {
            store
                .login_failures("account:ann", at, window)
                .await
                .unwrap()
                .count
        }
    };
    assert_eq!(count(t0).await, 2);
    // Forgiving an unknown subject, or below zero, does nothing.
    forgive("account:bob", t0).await;
    for _ in 0..3 {
        forgive("account:ann", t0).await;
    }
    assert_eq!(count(t0).await, 0);
    // An attempt of an old window does not take from the window that followed.
    let later = t0 + window + Duration::seconds(1);
    store
        .record_login_failure("account:ann", later, window)
        .await
        .unwrap();
    forgive("account:ann", t0).await;
    assert_eq!(count(later).await, 1);
}

vigor_common::sql_conformance!(Some(&crate::MIGRATIONS);
    concurrent_attempts_each_reserve_their_own_count,
    forgiven_attempts_leave_the_count_and_never_a_later_window,
    credentials_round_trip_and_emails_are_unique,
    roles_are_replaced,
    clients_round_trip_and_deleting_one_removes_its_sessions,
    codes_are_spent_once_and_reuse_revokes_their_family,
    concurrent_redemptions_of_one_code_succeed_once,
    expired_codes_are_deleted,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    expired_refresh_tokens_do_not_rotate_and_are_deleted,
    concurrent_rotations_of_one_token_succeed_once,
    families_are_revoked_one_by_one_or_per_user,
    one_signing_key_is_active_and_rotation_retires_it,
    login_failures_count_within_a_window,
);
