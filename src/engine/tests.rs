//! The lease lifecycle over simulated time: the engine is fed outcomes from a model router and
//! the clock is a value, so hours of upkeep run in milliseconds. Each test reads as the
//! behaviour it specifies; the last one checks invariants over random schedules.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Engine, Holding, LeaseState, Outcome, PcpLooked, Task};
use crate::events::{Event, EventKind};
use crate::gateway::{Gateway, Service, ServiceKind};
use crate::lease::{FamilyLease, OpenRequest, PortStatus};
use crate::limits::{RECOVER_BACKOFF_FIRST, RECOVER_BACKOFF_MAX, WATCH_INTERVAL};
use crate::parse::url::HttpUrl;
use crate::persist::JournalEntry;
use crate::pinhole::Pinhole;
use crate::port_mapping::PortMapping;
use crate::transport::probe::DeviceAnswer;
use crate::types::{Family, Protocol};

const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const HOST_V4: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 100);

fn gateway(family: Family) -> Gateway {
    let (url, kind, local) = match family {
        Family::V4 => ("http://192.168.77.1:5000/ctl/IPConn", ServiceKind::WanIpConnection2, IpAddr::V4(HOST_V4)),
        Family::V6 => ("http://[2001:db8:1::1]:5000/ctl/IP6FCtl", ServiceKind::WanIpv6FirewallControl1, IpAddr::V6(HOST_V6)),
    };
    let service = Service {
        kind,
        service_type: format!("urn:schemas-upnp-org:service:{}", kind.name()),
        control_url: HttpUrl::parse(url).unwrap(),
        wan_connection_device: None,
    };
    Gateway::for_control(family, service, local)
}

/// The model router: what it holds now, with the lease and family it was opened for, and
/// what it answers a probe: its boot id, and its web server's port offset from 5000 (0: where
/// it was when the gateways were found). `silent`: it answers no probe.
#[derive(Default)]
struct Router {
    held: Vec<(u64, Family, Holding)>,
    next_pinhole: u16,
    next_port: u16,
    boot_id: u32,
    web_port_moved: u16,
    silent: bool,
}

impl Router {
    /// Whether the router holds this (the same entry, whatever the engine knows about it).
    fn holds(&self, holding: &Holding) -> bool {
        self.held.iter().any(|(_, _, h)| same(h, holding))
    }
    fn remove(&mut self, holding: &Holding) {
        self.held.retain(|(_, _, h)| !same(h, holding));
    }
    /// The router loses what it held for one family of a lease.
    fn lose(&mut self, lease: u64, family: Family) {
        self.held.retain(|(l, f, _)| (*l, *f) != (lease, family));
    }
}

impl Router {
    /// The gateway as discovery finds it now: its web port and boot id.
    fn found(&self, family: Family) -> Gateway {
        let mut gw = gateway(family);
        gw.location.port += self.web_port_moved;
        gw.boot_id = Some(self.boot_id);
        gw
    }

    /// A healthy router's answer to `task` (lease granted as asked).
    fn answer(&mut self, task: &Task, now_v6: Ipv6Addr) -> Outcome {
        match task {
            Task::RemoveLeftovers { .. } => Outcome::LeftoversKept(Vec::new()),
            Task::Open { lease, family, request, description } => {
                let mut fl = FamilyLease::new(*family, true);
                fl.status = PortStatus::Open;
                fl.lease_secs = request.lease_secs;
                let holding = match family {
                    Family::V4 => {
                        // A new external port each time, so that every mapping is told apart.
                        self.next_port += 1;
                        fl.external = Some(SocketAddr::from((Ipv4Addr::new(11, 0, 0, 1), request.internal_port)));
                        Holding::Mapping {
                            gateway: self.found(Family::V4),
                            mapping: PortMapping {
                                remote_host: None,
                                external_port: 1024 + self.next_port,
                                protocol: request.protocol,
                                internal_port: request.internal_port,
                                internal_client: HOST_V4,
                                enabled: true,
                                description: description.clone(),
                                lease_secs: request.lease_secs,
                            },
                            confirmed: false,
                        }
                    }
                    Family::V6 => {
                        self.next_pinhole += 1;
                        fl.external = Some(SocketAddr::from((now_v6, request.internal_port)));
                        Holding::Pinhole {
                            gateway: self.found(Family::V6),
                            id: self.next_pinhole,
                            pinhole: Pinhole {
                                remote_host: None,
                                remote_port: 0,
                                internal_client: now_v6,
                                internal_port: request.internal_port,
                                protocol: request.protocol,
                                lease_secs: request.lease_secs,
                            },
                            confirmed: false,
                        }
                    }
                };
                self.held.push((*lease, *family, holding.clone()));
                Outcome::Opened { family_lease: fl, holding: Some(holding) }
            }
            Task::Confirm { holding: Holding::Mapping { mapping, .. }, .. } => Outcome::Confirmed { lease_secs: Some(mapping.lease_secs) },
            Task::Confirm { holding: Holding::Pinhole { pinhole, .. }, .. } => Outcome::Confirmed { lease_secs: Some(pinhole.lease_secs) },
            Task::Confirm { holding: Holding::Nothing, .. } => Outcome::Confirmed { lease_secs: Some(0) },
            Task::Confirm { holding: Holding::Pcp { mapping }, .. } => Outcome::Confirmed { lease_secs: Some(mapping.lifetime_granted) },
            Task::Renew { holding, .. } => match (self.holds(holding), holding) {
                (false, _) => Outcome::Gone { reason: "no such entry".into(), unreachable: false },
                (true, Holding::Pinhole { pinhole, .. }) if pinhole.internal_client != now_v6 => Outcome::Moved { to: now_v6 },
                (true, Holding::Pinhole { pinhole, .. }) => Outcome::Renewed { lease_secs: pinhole.lease_secs },
                (true, Holding::Mapping { mapping, .. }) => Outcome::Renewed { lease_secs: mapping.lease_secs },
                (true, Holding::Nothing) => Outcome::Renewed { lease_secs: 0 },
                (true, Holding::Pcp { mapping }) => Outcome::Refreshed { mapping: mapping.clone(), lost_state: false },
            },
            Task::Release { holding, .. } | Task::Discard { holding } => {
                self.remove(holding);
                match task {
                    Task::Release { .. } => Outcome::Released(Ok(())),
                    _ => Outcome::Done,
                }
            }
            Task::ForgetGateway { .. } => Outcome::Done,
            Task::Look { probe, .. } => {
                let answer = |gw: &Gateway| DeviceAnswer { boot_id: Some(self.boot_id), location: self.found(gw.family).location };
                let probed = if self.silent { Vec::new() } else { probe.iter().map(|gw| (gw.location.clone(), answer(gw))).collect() };
                Outcome::Looked { local_v6: Vec::new(), rebooted: Vec::new(), probed, pcp: Default::default() }
            }
        }
    }
}

/// The same entry on the router: what its journal line names.
fn same(a: &Holding, b: &Holding) -> bool {
    super::journal::entry_for(a) == super::journal::entry_for(b)
}

/// An engine, a model router and a simulated clock.
struct Sim {
    engine: Engine,
    router: Router,
    start: Instant,
    now: Instant,
    host_v6: Ipv6Addr,
    /// Every task performed, with its simulated time since the start.
    performed: Vec<(Duration, Task)>,
    events: Vec<Event>,
}

impl Sim {
    fn new() -> Sim {
        // The simulated clock's origin: the one reading of the real clock. From here time only
        // moves when a test adds to it.
        let start = Instant::now();
        Sim { engine: Engine::new(Vec::new(), true), router: Router::default(), start, now: start, host_v6: HOST_V6, performed: Vec::new(), events: Vec::new() }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Perform `tasks` and their follow-ups, answering each with `answer` (None: the healthy
    /// router's answer).
    fn perform(&mut self, tasks: Vec<Task>, answer: &mut dyn FnMut(&Task, &mut Router) -> Option<Outcome>) {
        let mut queue: VecDeque<Task> = tasks.into();
        while let Some(task) = queue.pop_front() {
            let outcome = match answer(&task, &mut self.router) {
                Some(o) => o,
                None => self.router.answer(&task, self.host_v6),
            };
            self.performed.push((self.elapsed(), task.clone()));
            let follow = self.engine.on_outcome(&task, outcome, self.now);
            for (i, t) in follow.into_iter().enumerate() {
                queue.insert(i, t);
            }
        }
        self.events.extend(self.engine.take_events());
    }

    fn open(&mut self, request: &OpenRequest) -> u64 {
        let (id, tasks) = self.engine.open(request, "portopen".into());
        self.perform(tasks, &mut |_, _| None);
        id
    }

    /// Run the clock to `start + until`, acting at every deadline.
    fn run_until(&mut self, until: Duration, answer: &mut dyn FnMut(&Task, &mut Router) -> Option<Outcome>) {
        let end = self.start + until;
        while let Some(deadline) = self.engine.poll_timeout().filter(|d| *d <= end) {
            assert!(deadline >= self.now, "a deadline in the past: the engine would spin");
            self.now = deadline;
            let tasks = self.engine.handle_timeout(self.now);
            self.perform(tasks, answer);
        }
        self.now = end;
    }

    fn healthy(&mut self, until: Duration) {
        self.run_until(until, &mut |_, _| None);
    }

    /// The times (since start) of the renewals of one family.
    fn renewals(&self, family: Family) -> Vec<Duration> {
        self.performed.iter().filter(|(_, t)| matches!(t, Task::Renew { family: f, .. } if *f == family)).map(|(at, _)| *at).collect()
    }

    fn kinds(&self, family: Family) -> Vec<EventKind> {
        self.events.iter().filter(|e| e.family == family).map(|e| e.kind).collect()
    }
}

fn request(lease_secs: u32) -> OpenRequest {
    OpenRequest { lease_secs, ..OpenRequest::new(Protocol::Udp, 40000) }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn leases_are_renewed_at_half_the_granted_lease_with_one_exchange_per_family() {
    let mut sim = Sim::new();
    sim.open(&request(3600));
    sim.healthy(secs(10 * 3600));
    let want: Vec<Duration> = (1..=20).map(|k| secs(k * 1800)).collect();
    assert_eq!(sim.renewals(Family::V6), want);
    assert_eq!(sim.renewals(Family::V4), want);
    // The fresh mapping is read back, the fresh pinhole's lease set, once each, at once.
    let confirms: Vec<(Duration, Option<Family>)> =
        sim.performed.iter().filter(|(_, t)| matches!(t, Task::Confirm { .. })).map(|(at, t)| (*at, t.family())).collect();
    assert_eq!(confirms, vec![(Duration::ZERO, Some(Family::V4)), (Duration::ZERO, Some(Family::V6))]);
    assert_eq!(sim.kinds(Family::V4).iter().filter(|k| **k == EventKind::Renewed).count(), 20);
    assert_eq!(sim.kinds(Family::V4)[0], EventKind::Opened);
}

#[test]
fn the_look_between_renewals_comes_every_watch_interval_while_something_is_held() {
    let mut sim = Sim::new();
    let id = sim.open(&request(3600));
    sim.healthy(secs(60));
    let looks = sim.performed.iter().filter(|(_, t)| matches!(t, Task::Look { .. })).count() as u32;
    assert_eq!(looks, 1 + (secs(60).as_millis() / WATCH_INTERVAL.as_millis()) as u32);
    let close = sim.engine.close(id);
    sim.perform(close, &mut |_, _| None);
    let before = sim.performed.len();
    sim.healthy(secs(3600));
    // One last look closes the listeners; then nothing is due at all.
    assert!(sim.performed.len() <= before + 1, "{:?}", &sim.performed[before..]);
    assert_eq!(sim.engine.poll_timeout(), None);
}

#[test]
fn failed_reopens_back_off_from_half_a_second_doubling_to_thirty_seconds_then_recover() {
    let mut sim = Sim::new();
    sim.open(&OpenRequest { v4: false, ..request(3600) });
    // The router loses everything and cannot open anything for ten minutes.
    sim.router.held.clear();
    let mut answer = |task: &Task, _: &mut Router| match task {
        Task::Open { family, .. } => {
            let mut fl = FamilyLease::new(*family, true);
            fl.message = "router refused".into();
            Some(Outcome::Opened { family_lease: fl, holding: None })
        }
        _ => None,
    };
    sim.run_until(secs(1800 + 600), &mut answer);
    let opens: Vec<Duration> = sim.performed.iter().filter(|(_, t)| matches!(t, Task::Open { .. })).map(|(at, _)| *at).collect();
    let gaps: Vec<Duration> = opens.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(opens[1], secs(1800), "the renewal found it gone and re-opened at once");
    assert_eq!(gaps[1], RECOVER_BACKOFF_FIRST);
    assert_eq!(gaps[2], RECOVER_BACKOFF_FIRST * 2);
    assert_eq!(gaps[3], RECOVER_BACKOFF_FIRST * 4);
    assert!(gaps[4..].iter().all(|g| *g <= RECOVER_BACKOFF_MAX));
    assert_eq!(*gaps.last().unwrap(), RECOVER_BACKOFF_MAX);
    // One Lost and one Failed, however many retries.
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Lost, EventKind::Failed]);
    // The router is back: the next retry recovers, within the back-off cap.
    let back = sim.elapsed();
    sim.healthy(back + RECOVER_BACKOFF_MAX);
    assert_eq!(sim.kinds(Family::V6).last(), Some(&EventKind::Recovered));
    let recovered_at = sim.performed.iter().rev().find(|(_, t)| matches!(t, Task::Open { .. })).unwrap().0;
    assert!(recovered_at - back <= RECOVER_BACKOFF_MAX);
}

#[test]
fn a_router_reboot_heard_by_its_boot_id_renews_what_it_held_at_once() {
    let mut sim = Sim::new();
    sim.open(&request(3600));
    sim.healthy(secs(100));
    // The router reboots at 100 s (its rules are gone) and announces it.
    sim.router.held.clear();
    let mut announced = false;
    sim.run_until(secs(200), &mut |task, _| match task {
        Task::Look { .. } if !announced => {
            announced = true;
            Some(Outcome::Looked {
                local_v6: Vec::new(),
                rebooted: vec![(Family::V4, gateway(Family::V4).location)],
                probed: Vec::new(),
                pcp: Default::default(),
            })
        }
        _ => None,
    });
    // Heard at the next look (<= 5 s later): IPv4 renewed, found gone, re-opened; IPv6 untouched.
    let v4: Vec<EventKind> = sim.kinds(Family::V4);
    assert_eq!(v4, vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered]);
    let renew_at = sim.renewals(Family::V4)[0];
    assert!(renew_at > secs(100) && renew_at <= secs(100) + WATCH_INTERVAL, "{renew_at:?}");
    assert!(sim.renewals(Family::V6).is_empty());
}

/// The times (since start) of the tasks of one kind.
fn times(sim: &Sim, what: fn(&Task) -> bool) -> Vec<Duration> {
    sim.performed.iter().filter(|(_, t)| what(t)).map(|(at, _)| *at).collect()
}

#[test]
fn a_router_answering_the_probe_with_a_new_boot_id_has_everything_it_held_renewed_at_once() {
    let mut sim = Sim::new();
    sim.open(&request(3600));
    sim.healthy(secs(100));
    assert!(sim.renewals(Family::V4).is_empty() && sim.renewals(Family::V6).is_empty(), "the first answers are only remembered");
    // Powered on again at 100 s: its rules are gone, it announces nothing, it answers searches.
    sim.router.held.clear();
    sim.router.boot_id += 1;
    sim.healthy(secs(200));
    for family in [Family::V4, Family::V6] {
        let renewals = sim.renewals(family);
        assert_eq!(renewals.len(), 1, "{family:?}: one renewal, then the normal schedule: {renewals:?}");
        assert!(renewals[0] > secs(100) && renewals[0] <= secs(100) + WATCH_INTERVAL, "{family:?} at {:?}", renewals[0]);
        assert_eq!(sim.kinds(family), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered], "{family:?}");
    }
    // Each look sent one probe per gateway (one per family here), no more.
    let looks = sim.performed.iter().filter_map(|(_, t)| match t {
        Task::Look { probe, .. } => Some(probe.len()),
        _ => None,
    });
    assert!(looks.clone().all(|n| n == 2), "{:?}", looks.collect::<Vec<_>>());
}

#[test]
fn a_router_answering_the_probe_with_a_new_location_and_the_same_boot_id_is_rediscovered() {
    let mut sim = Sim::new();
    sim.open(&request(3600));
    sim.healthy(secs(100));
    // Its web server moved at 100 s (same boot): the old address refuses connections.
    sim.router.web_port_moved = 1;
    let mut old_address_refuses = |task: &Task, _: &mut Router| match task {
        Task::Renew { .. } => Some(Outcome::Gone { reason: "connection refused".into(), unreachable: true }),
        _ => None,
    };
    sim.run_until(secs(200), &mut old_address_refuses);
    for family in [Family::V4, Family::V6] {
        let renewals = sim.renewals(family);
        assert_eq!(renewals.len(), 1, "{family:?}: the move is acted on once: {renewals:?}");
        assert!(renewals[0] > secs(100) && renewals[0] <= secs(100) + WATCH_INTERVAL, "{family:?} at {:?}", renewals[0]);
        assert_eq!(sim.kinds(family), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered], "{family:?}");
    }
    // Rediscovered: the gateway is dropped from the cache, then each family opened afresh.
    let forgets = times(&sim, |t| matches!(t, Task::ForgetGateway { .. }));
    let opens = times(&sim, |t| matches!(t, Task::Open { .. }));
    assert_eq!(forgets.len(), 2, "{forgets:?}");
    assert_eq!(opens.iter().filter(|at| **at > secs(100)).count(), 2, "{opens:?}");
}

#[test]
fn a_second_restart_right_after_a_rediscovery_is_seen_too() {
    let mut sim = Sim::new();
    sim.open(&request(3600));
    sim.healthy(secs(100));
    let mut old_address_refuses = |task: &Task, router: &mut Router| match task {
        Task::Renew { holding, .. } if holding.gateway().is_some_and(|g| g.location.port != 5000 + router.web_port_moved) => {
            Some(Outcome::Gone { reason: "connection refused".into(), unreachable: true })
        }
        _ => None,
    };
    // Powered on at 100 s onto a new web port: found again at the next look.
    sim.router.held.clear();
    (sim.router.boot_id, sim.router.web_port_moved) = (1, 1);
    sim.run_until(secs(106), &mut old_address_refuses);
    let found_again = *times(&sim, |t| matches!(t, Task::Open { .. })).last().unwrap();
    assert!(found_again > secs(100), "{found_again:?}");
    // Powered on again before the next look has asked the new address anything.
    sim.run_until(found_again + secs(1), &mut old_address_refuses);
    sim.router.held.clear();
    (sim.router.boot_id, sim.router.web_port_moved) = (2, 2);
    sim.run_until(secs(200), &mut old_address_refuses);
    for family in [Family::V4, Family::V6] {
        let renewals = sim.renewals(family);
        assert_eq!(renewals.len(), 2, "{family:?}: {renewals:?}");
        assert!(renewals[1] <= found_again + secs(1) + WATCH_INTERVAL, "{family:?}: {renewals:?}");
        assert_eq!(sim.kinds(family).iter().filter(|k| **k == EventKind::Recovered).count(), 2, "{family:?}: {:?}", sim.kinds(family));
    }
    assert!(sim.router.held.len() == 2, "both held on the router after its second start: {:?}", sim.router.held.len());
}

#[test]
fn a_router_that_stops_answering_the_probe_loses_nothing_by_silence_alone() {
    let mut sim = Sim::new();
    sim.open(&request(3600));
    sim.healthy(secs(100));
    sim.router.silent = true; // searches dropped (or rate-limited): it still holds everything
    sim.healthy(secs(3 * 3600));
    let want: Vec<Duration> = (1..=6).map(|k| secs(k * 1800)).collect();
    for family in [Family::V4, Family::V6] {
        assert_eq!(sim.renewals(family), want, "{family:?}: renewals on the normal schedule, no more");
        assert!(!sim.kinds(family).contains(&EventKind::Lost), "{family:?}: {:?}", sim.kinds(family));
    }
    // It answers again, same boot, same place: still nothing to do.
    sim.router.silent = false;
    sim.healthy(secs(3 * 3600 + 600));
    assert_eq!(sim.renewals(Family::V4), want);
}

#[test]
fn a_new_host_address_moves_the_pinhole_and_discards_the_old_one() {
    let mut sim = Sim::new();
    let id = sim.open(&OpenRequest { v4: false, ..request(3600) });
    sim.healthy(secs(60));
    let new_v6 = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
    sim.host_v6 = new_v6;
    let location = gateway(Family::V6).location;
    sim.run_until(secs(120), &mut |task, _| match task {
        Task::Look { .. } => {
            Some(Outcome::Looked { local_v6: vec![(location.clone(), new_v6)], rebooted: Vec::new(), probed: Vec::new(), pcp: Default::default() })
        }
        _ => None,
    });
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered]);
    assert!(sim.performed.iter().any(|(_, t)| matches!(t, Task::Discard { .. })), "the old pinhole is deleted");
    assert!(sim.performed.iter().any(|(_, t)| matches!(t, Task::ForgetGateway { .. })));
    assert_eq!(sim.router.held.len(), 1, "only the new pinhole is on the router");
    let info = sim.engine.info(id).unwrap();
    assert_eq!(info.v6.external.map(|a| a.ip()), Some(IpAddr::V6(new_v6)));
}

#[test]
fn a_renewal_that_finds_the_mapping_gone_adds_it_again_and_the_journal_follows() {
    let mut sim = Sim::new();
    let id = sim.open(&request(600));
    assert_eq!(sim.engine.journal.entries().len(), 2, "both families journaled at once");
    sim.router.lose(id, Family::V4);
    sim.healthy(secs(301));
    assert_eq!(sim.kinds(Family::V4), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered]);
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Renewed]);
    assert_eq!(sim.engine.info(id).unwrap().v4.status, PortStatus::Open);
    assert_eq!(sim.engine.journal.entries().len(), 2);
}

#[test]
fn a_pinhole_gone_without_a_reboot_makes_the_mapping_on_that_router_be_re_created_at_once() {
    // A firewall reload behind the daemon's back: the pinhole is gone (UpdatePinhole: 704),
    // the daemon still lists the mapping (its refresh answers success) but its rules are gone.
    let mut sim = Sim::new();
    let id = sim.open(&request(600));
    sim.healthy(secs(1));
    sim.router.lose(id, Family::V6);
    sim.healthy(secs(301));
    let v4: Vec<(Duration, bool)> = sim
        .performed
        .iter()
        .filter_map(|(at, t)| match t {
            Task::Renew { family: Family::V4, rebuild, .. } => Some((*at, *rebuild)),
            _ => None,
        })
        .collect();
    assert_eq!(v4, [(secs(300), false), (secs(300), true)], "refreshed, then re-created (delete + add) in the same round");
    assert_eq!(sim.kinds(Family::V6), [EventKind::Opened, EventKind::Lost, EventKind::Recovered]);
    // Its forwarding rule went with the pinhole's: lost until re-created.
    assert_eq!(sim.kinds(Family::V4), [EventKind::Opened, EventKind::Renewed, EventKind::Lost, EventKind::Recovered]);
    // Afterwards, plain refreshes again at half the lease.
    sim.healthy(secs(601));
    assert_eq!(sim.renewals(Family::V4).last(), Some(&secs(600)));
}

#[test]
fn a_close_during_a_renewal_deletes_when_the_renewal_returns() {
    let mut sim = Sim::new();
    let id = sim.open(&OpenRequest { v4: false, ..request(600) });
    sim.healthy(secs(1)); // the pinhole's lease set right after opening
    sim.now = sim.start + secs(300);
    let tasks = sim.engine.handle_timeout(sim.now);
    let renew: Vec<Task> = tasks.into_iter().filter(|t| matches!(t, Task::Renew { .. })).collect();
    assert_eq!(renew.len(), 1);
    assert_eq!(sim.engine.state(id, Family::V6), Some(LeaseState::Renewing));
    // The game closes while the renewal is on the wire: nothing to do yet, nothing doubled.
    assert!(sim.engine.close(id).is_empty());
    assert!(!sim.engine.is_closed(id));
    sim.perform(renew, &mut |_, _| None);
    assert!(sim.engine.is_closed(id));
    assert!(sim.router.held.is_empty(), "deleted from the router");
    assert!(sim.performed.iter().any(|(_, t)| matches!(t, Task::Release { .. })));
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Renewed, EventKind::Closed]);
    assert!(sim.engine.journal.entries().is_empty());
}

#[test]
fn a_cancelled_renewal_is_retried_after_a_back_off_without_an_event() {
    let mut sim = Sim::new();
    sim.open(&OpenRequest { v4: false, ..request(600) });
    let mut cancelled = 0;
    sim.run_until(secs(301), &mut |task, _| match task {
        Task::Renew { .. } if cancelled == 0 => {
            cancelled += 1;
            Some(Outcome::Postponed("cancelled".into()))
        }
        _ => None,
    });
    assert_eq!(sim.renewals(Family::V6), vec![secs(300), secs(300) + RECOVER_BACKOFF_FIRST]);
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Renewed]);
}

#[test]
fn the_journal_lists_leftovers_then_what_is_held_and_empties_on_close() {
    let old = JournalEntry::Pinhole {
        control: gateway(Family::V6).firewall.unwrap(),
        local: IpAddr::V6(HOST_V6),
        id: 9,
        protocol: Protocol::Udp,
        internal_client: HOST_V6,
        internal_port: 41000,
    };
    let mut sim = Sim::new();
    sim.engine = Engine::new(vec![old.clone()], true);
    assert_eq!(sim.engine.journal.entries(), vec![old.clone()]);
    // The leftover's router does not answer: it stays listed, before what the open holds.
    let (id, tasks) = sim.engine.open(&request(600), "portopen".into());
    let order: Vec<&str> = tasks
        .iter()
        .map(|t| match t {
            Task::RemoveLeftovers { entries } if entries == &vec![old.clone()] => "leftovers",
            Task::Open { family: Family::V6, .. } => "open v6",
            _ => "other",
        })
        .filter(|n| *n != "other")
        .collect();
    assert_eq!(order, ["leftovers", "open v6"], "the IPv6 leftover is removed before IPv6 opens");
    sim.perform(tasks, &mut |task, _| matches!(task, Task::RemoveLeftovers { .. }).then(|| Outcome::LeftoversKept(vec![old.clone()])));
    let entries = sim.engine.journal.entries();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0], old);
    assert!(sim.engine.take_journal().is_some(), "changed: to be written");
    assert!(sim.engine.take_journal().is_none(), "written once");
    let close = sim.engine.close(id);
    sim.perform(close, &mut |_, _| None);
    assert_eq!(sim.engine.journal.entries(), vec![old]);
}

#[test]
fn a_delete_the_router_did_not_answer_keeps_the_entry_in_the_journal() {
    let mut sim = Sim::new();
    let id = sim.open(&OpenRequest { v4: false, ..request(600) });
    let close = sim.engine.close(id);
    let refused = || crate::error::Error::Timeout("DeletePinhole".into());
    sim.perform(close, &mut |task, _| matches!(task, Task::Release { .. }).then(|| Outcome::Released(Err(refused()))));
    assert!(sim.engine.is_closed(id));
    assert_eq!(sim.engine.journal.entries().len(), 1, "kept for the next start");
    let closed = sim.events.last().unwrap();
    assert_eq!(closed.kind, EventKind::Closed);
    assert!(closed.message.starts_with("not removed from the router"), "{closed:?}");
}

/// A small deterministic generator (xorshift64*), so a failing schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_schedules_keep_every_invariant() {
    for seed in 1..=200u64 {
        random_schedule(seed);
    }
}

/// Many leases, outcomes in random order and of random kinds, closes at random times:
/// - no two tasks in flight for one family of one lease;
/// - every requested family of every open gets its answer (Opened or Failed);
/// - once everything is closed, whatever is still on the router is in the journal (to be
///   removed at the next start), or was given up when its router stopped answering (a
///   delete then could hit its replacement; its finite lease ends it).
fn random_schedule(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut sim = Sim::new();
    let mut in_flight: Vec<Task> = Vec::new();
    let mut unreachable_losses = 0;
    let mut abandoned: Vec<Holding> = Vec::new();
    let mut opened: Vec<(u64, bool, bool)> = Vec::new();
    let key = |t: &Task| -> Option<(u64, Family)> {
        match t {
            Task::Open { lease, family, .. }
            | Task::Confirm { lease, family, .. }
            | Task::Renew { lease, family, .. }
            | Task::Release { lease, family, .. } => Some((*lease, *family)),
            _ => None,
        }
    };
    let issue = |in_flight: &mut Vec<Task>, tasks: Vec<Task>| {
        for t in tasks {
            if let Some(k) = key(&t) {
                assert!(!in_flight.iter().any(|o| key(o) == Some(k)), "seed {seed}: two tasks in flight for {k:?}: {t:?}");
            }
            in_flight.push(t);
        }
    };
    for _step in 0..300 {
        match rng.below(10) {
            0 if opened.len() < 8 => {
                let (v4, v6) = match rng.below(3) {
                    0 => (true, false),
                    1 => (false, true),
                    _ => (true, true),
                };
                let req = OpenRequest { v4, v6, lease_secs: 1 + rng.below(600) as u32, ..OpenRequest::new(Protocol::Udp, 40000 + opened.len() as u16) };
                let (id, tasks) = sim.engine.open(&req, "portopen".into());
                opened.push((id, v4, v6));
                issue(&mut in_flight, tasks);
            }
            1 if !opened.is_empty() => {
                let (id, _, _) = opened[rng.below(opened.len() as u64) as usize];
                let tasks = sim.engine.close(id);
                issue(&mut in_flight, tasks);
            }
            2 if !sim.router.held.is_empty() => {
                // The router loses something at random.
                let i = rng.below(sim.router.held.len() as u64) as usize;
                sim.router.held.remove(i);
            }
            3 | 4 => {
                sim.now += Duration::from_millis(rng.below(400_000));
                let tasks = sim.engine.handle_timeout(sim.now);
                issue(&mut in_flight, tasks);
            }
            _ if !in_flight.is_empty() => {
                // Answer one task in flight (not necessarily the oldest), healthy or not.
                let task = in_flight.remove(rng.below(in_flight.len() as u64) as usize);
                let outcome = match (&task, rng.below(6)) {
                    (Task::Open { family, .. }, 0) => Outcome::Opened { family_lease: FamilyLease::new(*family, true), holding: None },
                    (Task::Renew { .. }, 0) => Outcome::Postponed("cancelled".into()),
                    (Task::Renew { holding, .. }, 1) => {
                        unreachable_losses += 1;
                        abandoned.push(holding.clone());
                        Outcome::Gone { reason: "stopped answering".into(), unreachable: true }
                    }
                    _ => sim.router.answer(&task, sim.host_v6),
                };
                let follow = sim.engine.on_outcome(&task, outcome, sim.now);
                issue(&mut in_flight, follow);
            }
            _ => {}
        }
        sim.events.extend(sim.engine.take_events());
        if let Some(deadline) = sim.engine.poll_timeout() {
            assert!(deadline >= sim.start, "seed {seed}");
        }
    }
    // Close everything and answer what is left, healthy.
    let tasks = sim.engine.close_all();
    issue(&mut in_flight, tasks);
    while let Some(task) = in_flight.pop() {
        let outcome = sim.router.answer(&task, sim.host_v6);
        let follow = sim.engine.on_outcome(&task, outcome, sim.now);
        issue(&mut in_flight, follow);
    }
    sim.events.extend(sim.engine.take_events());
    for (id, v4, v6) in &opened {
        for (family, wanted) in [(Family::V4, *v4), (Family::V6, *v6)] {
            let first = sim.events.iter().find(|e| e.lease_id == *id && e.family == family).map(|e| e.kind);
            if wanted {
                assert!(matches!(first, Some(EventKind::Opened | EventKind::Failed)), "seed {seed}: lease {id} {family} got {first:?} first");
            } else {
                assert_eq!(first, None, "seed {seed}");
            }
        }
        assert!(sim.engine.is_closed(*id), "seed {seed}: lease {id} not closed");
    }
    let journal = sim.engine.journal.entries();
    for (lease, family, holding) in &sim.router.held {
        let entry = super::journal::entry_for(holding).unwrap();
        let expires = abandoned.iter().any(|h| same(h, holding));
        assert!(journal.contains(&entry) || expires, "seed {seed}: lease {lease} {family} left on the router and not in the journal: {holding:?}");
    }
    assert!(journal.len() <= sim.router.held.len() + unreachable_losses, "seed {seed}: journal lists more than can be left: {journal:?}");
    assert!(sim.engine.leases().is_empty());
}

/// A PCP grant as the route reports it: `lifetime` granted, refreshed at `permille` of it.
fn pcp_mapping(family: Family, lifetime: u32, permille: u16, now: Instant) -> crate::pcp_mapping::PcpMapping {
    let (server, client): (SocketAddr, IpAddr) = match family {
        Family::V4 => ("192.168.77.1:5351".parse().unwrap(), IpAddr::V4(HOST_V4)),
        Family::V6 => ("[2001:db8:1::1]:5351".parse().unwrap(), IpAddr::V6(HOST_V6)),
    };
    crate::pcp_mapping::PcpMapping {
        server,
        route: crate::types::Route::Pcp,
        nonce: [7; 12],
        client,
        protocol: Protocol::Udp,
        internal_port: 40000,
        external: SocketAddr::new(if family == Family::V4 { IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1)) } else { client }, 40000),
        lifetime_asked: 3600,
        lifetime_granted: lifetime,
        epoch: 1000,
        answered_at: now,
        renew_permille: permille,
    }
}

/// Opens every family through PCP (lifetime 1200 s, refreshed at 55 %), holding it on the model
/// router; later tasks get the healthy router's answer.
fn open_through_pcp(sim: &mut Sim, request: &OpenRequest) -> u64 {
    let (id, tasks) = sim.engine.open(request, "portopen".into());
    let now = sim.now;
    sim.perform(tasks, &mut |task, router| match task {
        Task::Open { lease, family, .. } => {
            let mapping = pcp_mapping(*family, 1200, 550, now);
            let family_lease = crate::route_pcp::opened(*family, &mapping);
            let holding = Holding::Pcp { mapping };
            router.held.push((*lease, *family, holding.clone()));
            Some(Outcome::Opened { family_lease, holding: Some(holding) })
        }
        _ => None,
    });
    id
}

#[test]
fn pcp_mappings_are_refreshed_at_their_own_fraction_of_the_granted_lifetime_one_exchange_each() {
    let mut sim = Sim::new();
    let id = open_through_pcp(&mut sim, &request(3600));
    let info = sim.engine.info(id).unwrap();
    assert_eq!((info.v4.route, info.v6.route), (Some(crate::types::Route::Pcp), Some(crate::types::Route::Pcp)));
    assert_eq!(info.v4.lease_secs, 1200, "the lifetime the server granted, not the one asked");
    sim.healthy(secs(3600));
    // 55 % of 1200 s: every 660 s; no read-back or confirmation exchange (the answer is the truth).
    let want: Vec<Duration> = (1..=5).map(|k| secs(k * 660)).collect();
    assert_eq!(sim.renewals(Family::V4), want);
    assert_eq!(sim.renewals(Family::V6), want);
    assert!(!sim.performed.iter().any(|(_, t)| matches!(t, Task::Confirm { .. })));
    assert_eq!(sim.kinds(Family::V4).iter().filter(|k| **k == EventKind::Renewed).count(), 5);
}

#[test]
fn an_epoch_that_shows_lost_state_refreshes_everything_held_on_that_server_at_once() {
    let mut sim = Sim::new();
    let first = open_through_pcp(&mut sim, &OpenRequest { v6: false, ..request(3600) });
    sim.healthy(secs(100));
    let _second = open_through_pcp(&mut sim, &OpenRequest { v6: false, internal_port: 40001, ..request(3600) });
    // The first lease's refresh (at 660 s) learns from the epoch that the server restarted.
    let mut answer = |task: &Task, _: &mut Router| match task {
        Task::Renew { lease, holding: Holding::Pcp { mapping }, .. } if *lease == first => {
            Some(Outcome::Refreshed { mapping: mapping.clone(), lost_state: true })
        }
        _ => None,
    };
    sim.run_until(secs(661), &mut answer);
    let renewals = sim.renewals(Family::V4);
    assert_eq!(renewals, vec![secs(660), secs(660)], "the second lease (due at 760 s) is refreshed with the first");
    let kinds: Vec<(u64, EventKind)> = sim.events.iter().filter(|e| e.kind != EventKind::Opened).map(|e| (e.lease_id, e.kind)).collect();
    assert_eq!(
        kinds,
        vec![(first, EventKind::Lost), (first, EventKind::Recovered), (_second, EventKind::Lost), (_second, EventKind::Recovered)],
        "each was gone until its refresh re-made it"
    );
}

#[test]
fn an_announce_heard_in_the_look_reports_what_is_held_on_that_server_lost_and_re_makes_it_now() {
    let mut sim = Sim::new();
    let id = open_through_pcp(&mut sim, &request(3600));
    let v4_server: SocketAddr = "192.168.77.1:5351".parse().unwrap();
    // The first look (right after opening) hears nothing; the next one hears an ANNOUNCE.
    let mut looks = 0;
    let mut answer = |task: &Task, _: &mut Router| match task {
        Task::Look { .. } => {
            looks += 1;
            let announced = if looks == 2 { vec![v4_server] } else { Vec::new() };
            Some(Outcome::Looked { local_v6: Vec::new(), rebooted: Vec::new(), probed: Vec::new(), pcp: PcpLooked { announced, ..Default::default() } })
        }
        _ => None,
    };
    sim.run_until(WATCH_INTERVAL, &mut answer);
    let Some((_, Task::Look { announce, .. })) = sim.performed.iter().find(|(_, t)| matches!(t, Task::Look { .. })) else {
        panic!("no look: {:?}", sim.performed)
    };
    let watched = announce[Family::V4 as usize].expect("the look watches the IPv4 PCP server");
    assert_eq!((watched.server, watched.client), (v4_server, IpAddr::V4(HOST_V4)), "the PCP server and the address held there");
    assert_eq!(sim.renewals(Family::V4), vec![WATCH_INTERVAL], "refreshed at the look that heard the ANNOUNCE");
    assert_eq!(sim.kinds(Family::V4), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered], "said lost, then recovered");
    let lost = sim.events.iter().find(|e| e.kind == EventKind::Lost).unwrap();
    assert!(lost.message.contains("announced a restart"), "{}", lost.message);
    assert_eq!(sim.engine.info(id).unwrap().v4.status, PortStatus::Open);
    assert_eq!(sim.renewals(Family::V6), Vec::<Duration>::new(), "another server: not touched");
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened]);
}

#[test]
fn an_epoch_probe_that_shows_a_restart_re_makes_what_is_held_there_and_a_consistent_one_changes_nothing() {
    let mut sim = Sim::new();
    open_through_pcp(&mut sim, &request(3600));
    let v6_server: SocketAddr = "[2001:db8:1::1]:5351".parse().unwrap();
    let v4_server: SocketAddr = "192.168.77.1:5351".parse().unwrap();
    // Each look asks the epochs. The servers count on from 1000 (their epoch at the open) until
    // 100 s; then the IPv6 one powers on again and answers a small epoch.
    let looked = |epoch_of: &dyn Fn(SocketAddr) -> u32, announce: &[Option<crate::pcp_mapping::PcpWatch>; 2]| {
        let epochs = announce.iter().flatten().map(|w| (w.server, epoch_of(w.server))).collect();
        Some(Outcome::Looked { local_v6: Vec::new(), rebooted: Vec::new(), probed: Vec::new(), pcp: PcpLooked { epochs, ..Default::default() } })
    };
    // Consistent epochs until 100 s.
    // A look every 5 s from the open: the one at `t` is performed by `run_until(t)`.
    for t in (0..=100u32).step_by(5) {
        let now_epoch = 1000 + t;
        sim.run_until(secs(t.into()), &mut |task: &Task, _: &mut Router| match task {
            Task::Look { announce, .. } => looked(&|_| now_epoch, announce),
            _ => None,
        });
    }
    assert!(sim.renewals(Family::V4).is_empty() && sim.renewals(Family::V6).is_empty(), "a consistent epoch changes nothing");
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened]);
    // The IPv6 server powered on at 102 s: at the look at 105 s its epoch is 3.
    sim.run_until(secs(105), &mut |task: &Task, _: &mut Router| match task {
        Task::Look { announce, .. } => looked(&|server| if server == v6_server { 3 } else { 1105 }, announce),
        _ => None,
    });
    assert_eq!(sim.renewals(Family::V6), vec![secs(105)], "re-made at the look that saw the epoch");
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered]);
    assert!(sim.renewals(Family::V4).is_empty(), "the IPv4 server ({v4_server}) kept counting: not touched");
}

#[test]
fn a_new_host_address_toward_the_pcp_server_moves_the_pinhole_at_the_look_not_at_its_refresh() {
    let mut sim = Sim::new();
    open_through_pcp(&mut sim, &request(3600));
    let v6_server: SocketAddr = "[2001:db8:1::1]:5351".parse().unwrap();
    let new_v6 = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
    // From 30 s the host's address toward the server is another one.
    let mut answer = |task: &Task, _: &mut Router| match task {
        Task::Look { .. } => Some(Outcome::Looked {
            local_v6: Vec::new(),
            rebooted: Vec::new(),
            probed: Vec::new(),
            pcp: PcpLooked { local_v6: Some((v6_server, new_v6)), ..Default::default() },
        }),
        Task::Renew { family: Family::V6, holding: Holding::Pcp { mapping }, .. } if mapping.client != IpAddr::V6(new_v6) => {
            Some(Outcome::Moved { to: new_v6 })
        }
        _ => None,
    };
    sim.healthy(secs(29));
    sim.run_until(secs(35), &mut answer);
    assert_eq!(sim.renewals(Family::V6), vec![secs(30)], "renewed at the look that saw the new address");
    assert!(sim.performed.iter().any(|(at, t)| *at == secs(30) && matches!(t, Task::Discard { .. })), "the old pinhole discarded");
    assert!(sim.performed.iter().any(|(at, t)| *at == secs(30) && matches!(t, Task::Open { family: Family::V6, .. })), "opened again for the new address");
    assert_eq!(sim.kinds(Family::V6), vec![EventKind::Opened, EventKind::Lost, EventKind::Recovered]);
    assert!(sim.renewals(Family::V4).is_empty(), "IPv4 untouched");
}

#[test]
fn a_pcp_server_answering_again_after_silence_has_what_is_held_there_refreshed_at_once() {
    let mut sim = Sim::new();
    open_through_pcp(&mut sim, &OpenRequest { v6: false, ..request(3600) });
    let v4_server: SocketAddr = "192.168.77.1:5351".parse().unwrap();
    // The look at 40 s finds the server answering again (the host was cut off before it).
    sim.healthy(secs(39));
    sim.run_until(secs(40), &mut |task: &Task, _: &mut Router| match task {
        Task::Look { .. } => Some(Outcome::Looked {
            local_v6: Vec::new(),
            rebooted: Vec::new(),
            probed: Vec::new(),
            pcp: PcpLooked { answering_again: vec![v4_server], ..Default::default() },
        }),
        _ => None,
    });
    assert_eq!(sim.renewals(Family::V4), vec![secs(40)], "refreshed at that look, not at 660 s");
    assert_eq!(sim.kinds(Family::V4), vec![EventKind::Opened, EventKind::Renewed], "nothing is known lost: no Lost event");
}

#[test]
fn a_pcp_server_that_stops_answering_hands_the_family_to_a_new_open_and_close_deletes_with_the_nonce() {
    let mut sim = Sim::new();
    let id = open_through_pcp(&mut sim, &OpenRequest { v6: false, ..request(3600) });
    let journal = sim.engine.take_journal().unwrap();
    assert!(matches!(journal.as_slice(), [JournalEntry::Pcp { nonce, .. }] if *nonce == [7; 12]), "the journal keeps the nonce: {journal:?}");
    let mut answer = |task: &Task, _: &mut Router| match task {
        Task::Renew { .. } => Some(Outcome::Gone { reason: "the router stopped answering".into(), unreachable: true }),
        _ => None,
    };
    sim.run_until(secs(661), &mut answer);
    // The re-open is an ordinary open: the driver races the routes again (UPnP may win now).
    assert!(sim.performed.iter().any(|(at, t)| *at == secs(660) && matches!(t, Task::Open { .. })), "{:?}", sim.performed);
    let close = sim.engine.close(id);
    assert!(matches!(close.as_slice(), [Task::Release { holding: Holding::Mapping { .. }, .. }]), "{close:?}");
}

#[test]
fn close_releases_a_pcp_holding_and_the_journal_forgets_it() {
    let mut sim = Sim::new();
    let id = open_through_pcp(&mut sim, &OpenRequest { v4: false, ..request(3600) });
    sim.engine.take_journal();
    let close = sim.engine.close(id);
    let [Task::Release { holding: Holding::Pcp { mapping }, .. }] = close.as_slice() else { panic!("{close:?}") };
    assert_eq!(mapping.nonce, [7; 12]);
    sim.perform(close, &mut |_, _| None);
    assert_eq!(sim.engine.take_journal(), Some(Vec::new()));
    assert!(sim.router.held.is_empty());
}
