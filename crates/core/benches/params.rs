//! Form parsing cost against input size: both a body of many short parameter names
//! and one of a single long value must grow linearly with the size (the duplicate
//! check is a set, not a scan), and a body past the parameter cap must cost no more
//! than one at the cap.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portcullis_core::urlencoded::parse_form;
use std::hint::black_box;

/// `n` distinct short names, `a0=&a1=&…`, within the parameter cap.
fn many_names(n: usize) -> Vec<u8> {
    (0..n).map(|i| format!("a{i}=")).collect::<Vec<_>>().join("&").into_bytes()
}

/// One parameter whose value makes the body as long as `len`.
fn one_long_value(len: usize) -> Vec<u8> {
    let mut body = b"state=".to_vec();
    body.resize(len.max(7), b'x');
    body
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_form");
    for n in [125, 250, 500, 1000] {
        let names = many_names(n);
        group.throughput(Throughput::Bytes(names.len() as u64));
        group.bench_with_input(BenchmarkId::new("distinct_names", n), &names, |b, body| {
            b.iter(|| parse_form(black_box(body)).unwrap())
        });
        let long = one_long_value(names.len());
        group.bench_with_input(BenchmarkId::new("one_value_same_size", n), &long, |b, body| {
            b.iter(|| parse_form(black_box(body)).unwrap())
        });
    }
    // Past the cap the request is refused after reading at most MAX_PARAMS names.
    let over = many_names(10_000);
    group.throughput(Throughput::Bytes(over.len() as u64));
    group.bench_with_input(BenchmarkId::new("refused_over_cap", 10_000), &over, |b, body| {
        b.iter(|| parse_form(black_box(body)).unwrap_err())
    });
    group.finish();
}

criterion_group!(benches, parsing);
criterion_main!(benches);
