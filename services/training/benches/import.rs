//! Import of a 10,000-point GPX track: parsing and the whole analysis (distance,
//! moving time, climb, splits, best efforts, simplified polyline). Issue 5's
//! budget: under 200 ms. `cargo bench -p vigor-training --bench import`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]
// criterion_group! makes an undocumented public function; a bench is no library.
#![allow(missing_docs)]

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigor_training::domain::analysis::summary::summarize;
use vigor_training::import;

fn gpx_import(c: &mut Criterion) {
    let gpx = synthetic::gpx(10_000);
    let mut group = c.benchmark_group("import");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("gpx_10000_points", |b| {
        b.iter(|| {
            let activity = import::parse(gpx.as_bytes()).expect("a valid track");
            summarize(&activity.track)
        })
    });
    group.finish();
}

criterion_group!(benches, gpx_import);
criterion_main!(benches);
