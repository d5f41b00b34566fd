//! The one conformance suite of [`UserStore`], run on SQLite and PostgreSQL.

use chrono::{TimeZone as _, Utc};
use vigor_common::api::{Cursor, Timestamp};
use vigor_common::bus::Event;
use vigor_common::db::Database;
use vigor_common::{Id, IdGenerator};

use super::{search_position, Profile, SqlStore, UserStore};
use crate::domain::{
    DisplayName, Patch, Privacy, ProfileChanges, Role, Roles, Status, TimeZone, Units,
};

vigor_common::sql_conformance!(Some(&crate::MIGRATIONS);
    signup_creates_a_profile_once,
    the_email_copy_follows_auth,
    updates_change_only_what_they_name,
    roles_change_with_their_events,
    status_changes_once,
    search_pages_through_name_prefixes,
    search_pages_go_on_when_the_cursor_profile_is_renamed_or_gone,
    delete_erases_with_its_event,
);

fn at(seconds: i64) -> Timestamp {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn event(ids: &IdGenerator, name: &str) -> Event {
    Event {
        id: ids.next_id(),
        name: name.to_owned(),
        occurred_at: at(0),
        data: serde_json::json!({}),
    }
}

async fn outbox_topics(db: &Database) -> Vec<String> {
    let sql = "SELECT topic FROM outbox ORDER BY id";
    vigor_common::on_pool!(db, pool => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap())
}

async fn signed_up(store: &SqlStore, ids: &IdGenerator, name: &str) -> Profile {
    let id = ids.next_id();
    let profile = Profile::new_account(id, &format!("{id}@example.com"), name, at(0));
    assert!(store
        .create_from_signup("users", ids.next_id(), &profile)
        .await
        .unwrap());
    profile
}

async fn signup_creates_a_profile_once(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let user = ids.next_id();
    let profile = Profile::new_account(user, "ann@example.com", "Ann", at(0));
    let event_id = ids.next_id();
    assert!(store
        .create_from_signup("users", event_id, &profile)
        .await
        .unwrap());
    assert_eq!(store.profile(user).await.unwrap(), Some(profile.clone()));
    // The same event again (a redelivery) changes nothing.
    assert!(!store
        .create_from_signup("users", event_id, &profile)
        .await
        .unwrap());
    // Another event for the same user does not overwrite the profile.
    let mut other = profile.clone();
    other.display_name = "Impostor".to_owned();
    assert!(!store
        .create_from_signup("users", ids.next_id(), &other)
        .await
        .unwrap());
    assert_eq!(
        store.profile(user).await.unwrap().unwrap().display_name,
        "Ann"
    );
    assert_eq!(store.profile(ids.next_id()).await.unwrap(), None);
}

async fn the_email_copy_follows_auth(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let ann = signed_up(&store, &ids, "Ann").await;
    let bob = signed_up(&store, &ids, "Bob").await;
    assert!(store
        .set_email(ann.user_id, "annie@example.com", at(9))
        .await
        .unwrap());
    let read = store.profile(ann.user_id).await.unwrap().unwrap();
    assert_eq!(read.email, "annie@example.com");
    assert_eq!(read.updated_at, at(9));
    assert_eq!(store.profile(bob.user_id).await.unwrap(), Some(bob));
    assert!(!store
        .set_email(ids.next_id(), "x@example.com", at(9))
        .await
        .unwrap());
}

async fn updates_change_only_what_they_name(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let ann = signed_up(&store, &ids, "Ann").await;
    let bob = signed_up(&store, &ids, "Bob").await;
    let changes = ProfileChanges {
        display_name: Some(DisplayName::parse("Annie").unwrap()),
        avatar_url: Patch::Set("https://img.example.com/a.png".to_owned()),
        bio: Patch::Set("Runs.".to_owned()),
        units: Some(Units::Imperial),
        time_zone: Some(TimeZone::parse("Europe/Berlin").unwrap()),
        birth_year: Patch::Set(1990),
        height_cm: Patch::Set(172.5),
        weight_kg: Patch::Set(68.25),
        profile_visibility: Some(Privacy::Followers),
        activity_privacy: Some(Privacy::Private),
    };
    let updated = store
        .update_profile(ann.user_id, &changes, &[], at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.display_name, "Annie");
    assert_eq!(
        updated.avatar_url.as_deref(),
        Some("https://img.example.com/a.png")
    );
    assert_eq!(updated.bio.as_deref(), Some("Runs."));
    assert_eq!(updated.units, Units::Imperial);
    assert_eq!(updated.time_zone, "Europe/Berlin");
    assert_eq!(updated.birth_year, Some(1990));
    assert_eq!(updated.height_cm, Some(172.5));
    assert_eq!(updated.weight_kg, Some(68.25));
    assert_eq!(updated.profile_visibility, Privacy::Followers);
    assert_eq!(updated.activity_privacy, Privacy::Private);
    assert_eq!(updated.updated_at, at(10));
    assert_eq!(updated.created_at, ann.created_at);
    assert_eq!(
        store.profile(ann.user_id).await.unwrap(),
        Some(updated.clone())
    );

    // Absent fields stay; null clears.
    let clear = ProfileChanges {
        bio: Patch::Clear,
        weight_kg: Patch::Clear,
        ..ProfileChanges::default()
    };
    let cleared = store
        .update_profile(ann.user_id, &clear, &[], at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.bio, None);
    assert_eq!(cleared.weight_kg, None);
    assert_eq!(cleared.height_cm, Some(172.5));
    assert_eq!(cleared.display_name, "Annie");
    assert_eq!(cleared.avatar_url, updated.avatar_url);

    // Other profiles are untouched; unknown users are None.
    assert_eq!(store.profile(bob.user_id).await.unwrap(), Some(bob));
    assert_eq!(
        store
            .update_profile(ids.next_id(), &changes, &[], at(30))
            .await
            .unwrap(),
        None
    );
    // The search key follows the new name.
    let found = store.search("anni", None, 10).await.unwrap();
    assert_eq!(found.len(), 1);
}

async fn roles_change_with_their_events(db: Database) {
    let store = SqlStore::new(db.clone());
    let ids = IdGenerator::new(1).unwrap();
    let ann = signed_up(&store, &ids, "Ann").await;
    let roles = Roles::of([Role::Coach]);
    let updated = store
        .set_roles(
            ann.user_id,
            &roles,
            &[event(&ids, "user.roles_changed")],
            at(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.roles.to_strings(), ["user", "coach"]);
    assert_eq!(
        store.profile(ann.user_id).await.unwrap().unwrap().roles,
        roles
    );
    assert_eq!(outbox_topics(&db).await, ["user.roles_changed"]);
    // No profile: no change and no event.
    assert_eq!(
        store
            .set_roles(
                ids.next_id(),
                &roles,
                &[event(&ids, "user.roles_changed")],
                at(6)
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(outbox_topics(&db).await.len(), 1);
}

async fn status_changes_once(db: Database) {
    let store = SqlStore::new(db.clone());
    let ids = IdGenerator::new(1).unwrap();
    let ann = signed_up(&store, &ids, "Ann").await;
    let deactivate = |store: SqlStore, id: Id, e: Event| async move {
        store
            .set_status(id, Status::Deactivated, &[e], at(5))
            .await
            .unwrap()
    };
    assert!(deactivate(store.clone(), ann.user_id, event(&ids, "user.deactivated")).await);
    assert!(!deactivate(store.clone(), ann.user_id, event(&ids, "user.deactivated")).await);
    assert_eq!(
        store.profile(ann.user_id).await.unwrap().unwrap().status,
        Status::Deactivated
    );
    assert_eq!(outbox_topics(&db).await, ["user.deactivated"]);
    // Deactivated profiles are not found by search.
    assert!(store.search("ann", None, 10).await.unwrap().is_empty());
    assert!(store
        .set_status(ann.user_id, Status::Active, &[], at(6))
        .await
        .unwrap());
    assert_eq!(store.search("ann", None, 10).await.unwrap().len(), 1);
}

async fn search_pages_through_name_prefixes(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    // Two "Anna"s share a key: the user id breaks the tie.
    for name in ["Anna", "anna", "Annabel", "Anne", "Bob", "Zoë", "ann"] {
        signed_up(&store, &ids, name).await;
    }
    let all = store.search("ann", None, 100).await.unwrap();
    let names: Vec<&str> = all.iter().map(|p| p.display_name.as_str()).collect();
    assert_eq!(names, ["ann", "Anna", "anna", "Annabel", "Anne"]);

    // Page by two, resuming after the last (key, id) of each page.
    let mut seen = Vec::new();
    let mut after: Option<Cursor<String>> = None;
    loop {
        let page = store.search("ann", after.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(search_position);
        seen.extend(page.into_iter().map(|p| p.user_id));
    }
    assert_eq!(seen, all.iter().map(|p| p.user_id).collect::<Vec<_>>());

    assert_eq!(store.search("zoë", None, 10).await.unwrap().len(), 1);
    assert_eq!(store.search("annabelle", None, 10).await.unwrap().len(), 0);
    // LIKE wildcards are plain characters.
    assert_eq!(store.search("%", None, 10).await.unwrap().len(), 0);
}

async fn search_pages_go_on_when_the_cursor_profile_is_renamed_or_gone(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(1).unwrap();
    let mut p = Vec::new();
    for name in ["Ann A", "Ann B", "Ann C", "Ann D", "Ann E", "Ann F"] {
        p.push(signed_up(&store, &ids, name).await);
    }
    let names = |page: Vec<Profile>| page.into_iter().map(|p| p.display_name).collect::<Vec<_>>();
    let first = store.search("ann", None, 2).await.unwrap();
    assert_eq!(names(first), ["Ann A", "Ann B"]);

    // The last profile of the page is deleted: the next page starts after
    // where it stood.
    assert!(store
        .delete(p[1].user_id, &[event(&ids, "user.deleted")])
        .await
        .unwrap());
    let after_b = search_position(&p[1]);
    let second = store.search("ann", Some(&after_b), 2).await.unwrap();
    assert_eq!(names(second), ["Ann C", "Ann D"]);

    // The last profile of that page is renamed to sort first: the next page
    // still starts after where it stood, repeating nothing and losing nothing.
    let rename = ProfileChanges {
        display_name: Some(DisplayName::parse("Ann 0").unwrap()),
        ..ProfileChanges::default()
    };
    store
        .update_profile(p[3].user_id, &rename, &[], at(10))
        .await
        .unwrap()
        .unwrap();
    let after_d = search_position(&p[3]);
    let third = store.search("ann", Some(&after_d), 2).await.unwrap();
    assert_eq!(names(third), ["Ann E", "Ann F"]);
    let after_f = search_position(&p[5]);
    assert!(store
        .search("ann", Some(&after_f), 2)
        .await
        .unwrap()
        .is_empty());
}

async fn delete_erases_with_its_event(db: Database) {
    let store = SqlStore::new(db.clone());
    let ids = IdGenerator::new(1).unwrap();
    let ann = signed_up(&store, &ids, "Ann").await;
    let bob = signed_up(&store, &ids, "Bob").await;
    assert!(store
        .delete(ann.user_id, &[event(&ids, "user.deleted")])
        .await
        .unwrap());
    assert_eq!(store.profile(ann.user_id).await.unwrap(), None);
    assert!(store.profile(bob.user_id).await.unwrap().is_some());
    assert_eq!(outbox_topics(&db).await, ["user.deleted"]);
    assert!(!store
        .delete(ann.user_id, &[event(&ids, "user.deleted")])
        .await
        .unwrap());
    assert_eq!(outbox_topics(&db).await.len(), 1);
}
