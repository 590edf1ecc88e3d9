//! One background thread per client, whatever the number of leases (issue 8's target), checked
//! by the names of this process's threads. Its own test binary: no other test's client runs in
//! this process while it counts.
// Threads are counted by name from /proc/self/task: Linux only.
#![cfg(target_os = "linux")]

mod fake_igd;

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use fake_igd::{client, FakeIgd};
use portopen::{EventKind, OpenRequest, Protocol};

/// Names of this process's threads that start with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

/// Wait (bounded) until this many threads named `prefix`* are left, then count them.
fn settled_count(prefix: &str, want: usize) -> usize {
    let end = Instant::now() + Duration::from_secs(5);
    while threads_named(prefix) != want && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    threads_named(prefix)
}

fn request(port: u16) -> OpenRequest {
    let v6 = Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)); // ::1 cannot be pinholed
    OpenRequest { lease_secs: 2, internal_v6: v6, ..OpenRequest::new(Protocol::Udp, port) }
}

#[test]
fn one_keeper_thread_per_client_whatever_the_number_of_leases() {
    let (v4, v6) = (FakeIgd::v4(), FakeIgd::v6());
    assert_eq!(threads_named("portopen-"), 0);

    let a = client(&[&v4, &v6], true);
    let first = a.open(&request(41000)).unwrap();
    assert!(first.info().v4.status.is_open() && first.info().v6.status.is_open(), "{:?}", first.info());
    assert_eq!(settled_count("portopen-keeper", 1), 1, "one lease: one keeper");

    let more: Vec<_> = (1..16).map(|i| a.open(&request(41000 + i)).unwrap()).collect();
    assert!(more.iter().all(|l| l.info().v4.status.is_open() && l.info().v6.status.is_open()));
    assert_eq!(settled_count("portopen-keeper", 1), 1, "sixteen leases: still the one keeper");
    // Search threads end with their search: none stays per lease.
    assert_eq!(settled_count("portopen-", 1), 1, "only the keeper stays");

    // The keeper renews all of them (2 s leases: renewed after ~1 s).
    let end = Instant::now() + Duration::from_secs(4);
    let mut renewed = std::collections::HashSet::new();
    while renewed.len() < 32 && Instant::now() < end {
        while let Some(e) = a.poll_event() {
            if e.kind == EventKind::Renewed {
                renewed.insert((e.lease_id, e.family));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(renewed.len(), 32, "every lease renewed on both families by the one keeper");
    assert_eq!(threads_named("portopen-keeper"), 1);

    let b = client(&[&v4, &v6], true);
    let other = b.open(&request(42000)).unwrap();
    assert!(other.info().v4.status.is_open());
    // (A new thread names itself once it runs: hence the bounded wait.)
    assert_eq!(settled_count("portopen-keeper", 2), 2, "a second client has its own keeper");

    drop((first, more));
    a.close();
    assert_eq!(threads_named("portopen-keeper"), 1, "close joins the keeper");
    drop(other);
    drop(b);
    assert_eq!(threads_named("portopen-keeper"), 0, "dropping the client joins its keeper");
    assert!(v4.model().mappings.is_empty() && v6.model().pinholes.is_empty(), "everything removed");
    assert_eq!(settled_count("portopen-", 0), 0, "no thread of the library left");
}
