//! `GET /v1/training/stats` over a year of daily workouts, through HTTP with a real
//! token, on SQLite and (when `VIGOR_TEST_POSTGRES_URL` names a server, as under
//! `.ci/test`) PostgreSQL. Issue 5's budget: under 50 ms.
//! `cargo bench -p vigor-training --bench stats`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]
// criterion_group! makes an undocumented public function; a bench is no library.
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports, unused_macros)]
mod common;

use common::{Backend, TestApp};
use criterion::{criterion_group, criterion_main, Criterion};
use vigor_common::Id;

fn stats(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("stats_year_of_daily_workouts");
    for (name, backend) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
        let Some((app, token)) = runtime.block_on(async {
            let app = TestApp::spawn(backend).await?;
            let (user_id, token) = app.user("ann").await;
            let owner: Id = user_id.parse().expect("an id");
            let squat: Id = app
                .exercise_id(&token, "squats")
                .await
                .parse()
                .expect("an id");
            app.seed_daily_year(owner, squat).await;
            Some((app, token))
        }) else {
            continue;
        };
        let url = app.url("/v1/training/stats?from=2023-01-01&to=2023-12-31&bucket=week");
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = app
                    .http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("an answer");
                assert!(response.status().is_success());
                response.bytes().await.expect("a body")
            })
        });
        runtime.block_on(async move { drop(app) });
    }
    group.finish();
}

criterion_group!(benches, stats);
criterion_main!(benches);
