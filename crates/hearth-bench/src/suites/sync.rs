//! Suite `sync`: hearth-sync's channels and locks against their peers.
//!
//! Workloads, each the same generic code for every peer:
//!
//! - **ping-pong**: two tasks bounce a message through two unbounded
//!   channels; ns per hop (one send + one receive + one task switch).
//! - **throughput**: one producer, one consumer, bounded(1024) and unbounded;
//!   ns per message.
//! - **contention**: 1,000 tasks share a `Mutex` / `Semaphore(10)`; each
//!   acquires, yields once while holding, releases; ns per acquire-release.
//!
//! Fairness: every peer runs on the **same executor**, a minimal local
//! executor whose tasks have hearth dual wakers (`DualRc`, as hearth's own
//! runtime). Peers that park on `cx.waker()` pay what a `Waker` costs there
//! (an atomic count per clone and drop); hearth-sync parks on
//! `cx.local_waker()`. tokio::sync also runs on its home ground, a
//! current_thread runtime with a `LocalSet`, as an extra row. One operation of
//! the harness is one whole run of `MESSAGES` operations.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hearth_task::dual::{DualRc, DualWake};

use crate::harness::{Config, Suite, SuiteReport, Target};

/// Operations per run of every workload (hops, messages, acquire-releases).
pub const MESSAGES: u64 = 3_000_000;
/// Tasks of the contention workload.
pub const TASKS: u64 = 1_000;
/// Capacity of the bounded channels.
pub const CAPACITY: usize = 1024;
/// Samples per case (each sample is one run of [`MESSAGES`] operations).
/// Three runs of 3,000,000 keep the whole `cargo run --release -p hearth-bench`
/// under three minutes next to the `net` suite's wrk runs (with 5,000,000 the
/// suites took 202 s once the context suite and the net suite's client, h2c
/// and epoll rows were added; with 10,000,000, 3 min 45 s before that).
const SAMPLES: usize = 3;

// ---- the executor every peer runs on ----

type Queue = Rc<RefCell<VecDeque<DualRc<Task>>>>;

struct Task {
    future: RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>>,
    queue: Queue,
}

impl DualWake for Task {
    type Shared = Arc<Mutex<Vec<Waker>>>;
    fn wake_local(this: &DualRc<Self>) {
        this.queue.borrow_mut().push_back(this.clone());
    }
    fn wake_remote(remote: &Self::Shared, waker: &Waker) {
        remote.lock().unwrap().push(waker.clone());
    }
}

/// Runs `tasks` to completion on a minimal dual-waker executor.
fn run_local(tasks: Vec<Pin<Box<dyn Future<Output = ()>>>>) {
    let queue: Queue = Rc::default();
    let remote: Arc<Mutex<Vec<Waker>>> = Arc::default();
    let mut live = tasks.len();
    // Every task stays alive until the end: a dual `Waker` does not keep its
    // target alive (only `DualRc`s and local twins do).
    let all: Vec<DualRc<Task>> = tasks
        .into_iter()
        .map(|fut| {
            DualRc::new(
                Task {
                    future: RefCell::new(Some(fut)),
                    queue: queue.clone(),
                },
                remote.clone(),
            )
        })
        .collect();
    queue.borrow_mut().extend(all.iter().cloned());
    while live > 0 {
        let task = queue
            .borrow_mut()
            .pop_front()
            .expect("a task is stuck: no task runnable");
        let waker = task.waker_ref();
        let mut cx = Context::from_waker(&waker);
        let mut slot = task.future.borrow_mut();
        if let Some(fut) = slot.as_mut() {
            if fut.as_mut().poll(&mut cx).is_ready() {
                *slot = None;
                live -= 1;
            }
        }
    }
}

/// Runs `tasks` to completion on tokio's current_thread runtime + `LocalSet`.
fn run_tokio(rt: &tokio::runtime::Runtime, tasks: Vec<Pin<Box<dyn Future<Output = ()>>>>) {
    let local = tokio::task::LocalSet::new();
    local.block_on(rt, async {
        let handles: Vec<_> = tasks.into_iter().map(tokio::task::spawn_local).collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

/// Runs `tasks` to completion on hearth's own executor (`hearth::block_on`).
fn run_hearth(tasks: Tasks) {
    hearth::block_on(async {
        let handles: Vec<_> = tasks.into_iter().map(hearth::spawn_local).collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

/// Runs `tasks` to completion on hearth's executor hosted on tokio
/// (`hearth::compat::tokio`), on `rt`.
fn run_hosted(
    rt: &tokio::runtime::Runtime,
    hosted: &hearth::compat::tokio::LocalExecutor,
    tasks: Tasks,
) {
    rt.block_on(hosted.run_until(async {
        let handles: Vec<_> = tasks.into_iter().map(hearth::spawn_local).collect();
        for h in handles {
            h.await.unwrap();
        }
    }));
}

/// Yields once, waking the task through `cx.waker()` (the same for all).
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

// ---- channels ----

type Tasks = Vec<Pin<Box<dyn Future<Output = ()>>>>;

/// A channel of `u64`, bounded (`Some(capacity)`) or unbounded.
trait Channel: 'static {
    type Tx: 'static;
    type Rx: 'static;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx);
    fn send(tx: &mut Self::Tx, v: u64) -> impl Future<Output = ()>;
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>>;
}

/// Implements [`Channel`] for a bounded and an unbounded channel type of a
/// peer, without any wrapper around their futures.
macro_rules! channel {
    ($bounded:ident, $unbounded:ident, $new_bounded:expr, $new_unbounded:expr,
     bounded_send: |$btx:ident, $bv:ident| $bsend:expr,
     unbounded_send: |$utx:ident, $uv:ident| $usend:expr,
     recv: |$rx:ident| $recv:expr) => {
        struct $bounded;
        impl Channel for $bounded {
            type Tx = <$bounded as Types>::Tx;
            type Rx = <$bounded as Types>::Rx;
            fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
                $new_bounded(capacity.expect("a bounded channel needs a capacity"))
            }
            async fn send($btx: &mut Self::Tx, $bv: u64) {
                $bsend
            }
            async fn recv($rx: &mut Self::Rx) -> Option<u64> {
                $recv
            }
        }
        struct $unbounded;
        impl Channel for $unbounded {
            type Tx = <$unbounded as Types>::Tx;
            type Rx = <$unbounded as Types>::Rx;
            fn new(_: Option<usize>) -> (Self::Tx, Self::Rx) {
                $new_unbounded()
            }
            async fn send($utx: &mut Self::Tx, $uv: u64) {
                $usend
            }
            async fn recv($rx: &mut Self::Rx) -> Option<u64> {
                $recv
            }
        }
    };
}

/// The handle types of each channel.
trait Types {
    type Tx: 'static;
    type Rx: 'static;
}

macro_rules! types {
    ($($t:ident: $tx:ty, $rx:ty;)*) => {
        $(impl Types for $t {
            type Tx = $tx;
            type Rx = $rx;
        })*
    };
}

types! {
    HearthSync: hearth_sync::mpsc::Sender<u64>, hearth_sync::mpsc::Receiver<u64>;
    HearthSyncU: hearth_sync::mpsc::UnboundedSender<u64>, hearth_sync::mpsc::UnboundedReceiver<u64>;
    TokioSync: tokio::sync::mpsc::Sender<u64>, tokio::sync::mpsc::Receiver<u64>;
    TokioSyncU: tokio::sync::mpsc::UnboundedSender<u64>, tokio::sync::mpsc::UnboundedReceiver<u64>;
    LocalSync: local_sync::mpsc::bounded::Tx<u64>, local_sync::mpsc::bounded::Rx<u64>;
    LocalSyncU: local_sync::mpsc::unbounded::Tx<u64>, local_sync::mpsc::unbounded::Rx<u64>;
    FuturesChannel: futures::channel::mpsc::Sender<u64>, futures::channel::mpsc::Receiver<u64>;
    FuturesChannelU: futures::channel::mpsc::UnboundedSender<u64>, futures::channel::mpsc::UnboundedReceiver<u64>;
}

channel!(HearthSync, HearthSyncU, hearth_sync::mpsc::channel, hearth_sync::mpsc::unbounded_channel,
    bounded_send: |tx, v| tx.send(v).await.unwrap(),
    unbounded_send: |tx, v| tx.send(v).unwrap(),
    recv: |rx| rx.recv().await);
channel!(TokioSync, TokioSyncU, tokio::sync::mpsc::channel, tokio::sync::mpsc::unbounded_channel,
    bounded_send: |tx, v| tx.send(v).await.unwrap(),
    unbounded_send: |tx, v| tx.send(v).unwrap(),
    recv: |rx| rx.recv().await);
channel!(LocalSync, LocalSyncU, local_sync::mpsc::bounded::channel, local_sync::mpsc::unbounded::channel,
    bounded_send: |tx, v| tx.send(v).await.unwrap(),
    unbounded_send: |tx, v| tx.send(v).unwrap(),
    recv: |rx| rx.recv().await);
// futures' capacity is `buffer + number of senders`: buffer 1023 for 1024.
channel!(FuturesChannel, FuturesChannelU, |c: usize| futures::channel::mpsc::channel(c - 1),
    futures::channel::mpsc::unbounded,
    bounded_send: |tx, v| futures::SinkExt::send(tx, v).await.unwrap(),
    unbounded_send: |tx, v| tx.unbounded_send(v).unwrap(),
    recv: |rx| futures::StreamExt::next(rx).await);

struct AsyncChannel;
impl Channel for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        match capacity {
            Some(c) => async_channel::bounded(c),
            None => async_channel::unbounded(),
        }
    }
    async fn send(tx: &mut Self::Tx, v: u64) {
        tx.send(v).await.unwrap()
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// Unbounded only.
struct LocalChannel;
impl Channel for LocalChannel {
    type Tx = local_channel::mpsc::Sender<u64>;
    type Rx = local_channel::mpsc::Receiver<u64>;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        assert!(capacity.is_none(), "local-channel has no bounded channel");
        local_channel::mpsc::channel()
    }
    async fn send(tx: &mut Self::Tx, v: u64) {
        tx.send(v).unwrap()
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await
    }
}

/// The least a channel can be: one value slot and one parked waker, no queue,
/// no close. Ping-pong through it is the executor's own cost per hop.
#[derive(Default)]
struct Slot {
    value: std::cell::Cell<Option<u64>>,
    waiter: hearth_task::LocalWakerSlot,
}

impl Slot {
    fn send(&self, v: u64) {
        self.value.set(Some(v));
        self.waiter.wake();
    }

    fn recv(&self) -> impl Future<Output = u64> + '_ {
        std::future::poll_fn(move |cx| match self.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                self.waiter
                    .register(hearth_task::ContextExt::local_waker(cx));
                Poll::Pending
            }
        })
    }
}

/// Ping-pong through two [`Slot`]s: the floor under every channel.
fn ping_pong_floor(hops: u64) -> Tasks {
    let (a, b) = (Rc::new(Slot::default()), Rc::new(Slot::default()));
    let (a2, b2) = (a.clone(), b.clone());
    let ping = async move {
        for i in 0..hops / 2 {
            a.send(i);
            assert_eq!(b.recv().await, i + 1);
        }
        a.send(u64::MAX);
    };
    let pong = async move {
        loop {
            let v = a2.recv().await;
            if v == u64::MAX {
                break;
            }
            b2.send(v + 1);
        }
    };
    vec![Box::pin(ping), Box::pin(pong)]
}

/// Two tasks bounce a counter through two unbounded channels: `hops` hops.
fn ping_pong<C: Channel>(hops: u64) -> Tasks {
    let (mut tx_a, mut rx_a) = C::new(None);
    let (mut tx_b, mut rx_b) = C::new(None);
    let ping = async move {
        for i in 0..hops / 2 {
            C::send(&mut tx_a, i).await;
            let back = C::recv(&mut rx_b).await;
            assert_eq!(back, Some(i + 1));
        }
    };
    let pong = async move {
        while let Some(v) = C::recv(&mut rx_a).await {
            C::send(&mut tx_b, v + 1).await;
        }
    };
    vec![Box::pin(ping), Box::pin(pong)]
}

/// One producer, one consumer, `messages` messages.
fn throughput<C: Channel>(capacity: Option<usize>, messages: u64) -> Tasks {
    let (mut tx, mut rx) = C::new(capacity);
    let producer = async move {
        for i in 0..messages {
            C::send(&mut tx, i).await;
        }
    };
    let consumer = async move {
        let mut n = 0;
        while let Some(v) = C::recv(&mut rx).await {
            black_box(v);
            n += 1;
        }
        assert_eq!(n, messages, "{}", std::any::type_name::<C>());
    };
    vec![Box::pin(producer), Box::pin(consumer)]
}

// ---- locks ----

/// `TASKS` tasks, `MESSAGES` acquire-yield-release rounds in all.
fn contention<L: 'static>(lock: L, round: impl AsyncFn(&L) + Clone + 'static) -> Tasks {
    let lock = Rc::new(lock);
    (0..TASKS)
        .map(|_| {
            let (lock, round) = (lock.clone(), round.clone());
            Box::pin(async move {
                for _ in 0..MESSAGES / TASKS {
                    round(&lock).await;
                }
            }) as Pin<Box<dyn Future<Output = ()>>>
        })
        .collect()
}

fn hearth_mutex() -> Tasks {
    contention(
        hearth_sync::Mutex::new(0u64),
        async |m: &hearth_sync::Mutex<u64>| {
            let mut g = m.lock().await;
            yield_now().await;
            *g += 1;
        },
    )
}

fn tokio_mutex() -> Tasks {
    contention(
        tokio::sync::Mutex::new(0u64),
        async |m: &tokio::sync::Mutex<u64>| {
            let mut g = m.lock().await;
            yield_now().await;
            *g += 1;
        },
    )
}

fn hearth_semaphore() -> Tasks {
    contention(
        hearth_sync::Semaphore::new(10),
        async |s: &hearth_sync::Semaphore| {
            let _p = s.acquire().await.unwrap();
            yield_now().await;
        },
    )
}

fn tokio_semaphore() -> Tasks {
    contention(
        tokio::sync::Semaphore::new(10),
        async |s: &tokio::sync::Semaphore| {
            let _p = s.acquire().await.unwrap();
            yield_now().await;
        },
    )
}

fn local_sync_semaphore() -> Tasks {
    contention(
        local_sync::semaphore::Semaphore::new(10),
        async |s: &local_sync::semaphore::Semaphore| {
            let _p = s.acquire().await.unwrap();
            yield_now().await;
        },
    )
}

// ---- the suite ----

pub const PING_HEARTH: &str = "ping-pong · hearth-sync";
pub const PING_PEERS: [&str; 6] = [
    "ping-pong · tokio::sync",
    "ping-pong · tokio::sync (tokio LocalSet)",
    "ping-pong · local-sync",
    "ping-pong · futures::channel",
    "ping-pong · async-channel",
    "ping-pong · local-channel",
];
pub const PING_FLOOR: &str = "ping-pong · floor: one-slot channel, no queue (executor cost)";
pub const BOUNDED_HEARTH: &str = "bounded(1024) · hearth-sync";
pub const BOUNDED_PEERS: [&str; 5] = [
    "bounded(1024) · tokio::sync",
    "bounded(1024) · tokio::sync (tokio LocalSet)",
    "bounded(1024) · local-sync",
    "bounded(1024) · futures::channel",
    "bounded(1024) · async-channel",
];
pub const UNBOUNDED_HEARTH: &str = "unbounded · hearth-sync";
pub const UNBOUNDED_PEERS: [&str; 6] = [
    "unbounded · tokio::sync",
    "unbounded · tokio::sync (tokio LocalSet)",
    "unbounded · local-sync",
    "unbounded · futures::channel",
    "unbounded · async-channel",
    "unbounded · local-channel",
];
pub const MUTEX_HEARTH: &str = "Mutex, 1,000 tasks · hearth-sync";
pub const MUTEX_PEERS: [&str; 2] = [
    "Mutex, 1,000 tasks · tokio::sync",
    "Mutex, 1,000 tasks · tokio::sync (tokio LocalSet)",
];
pub const SEM_HEARTH: &str = "Semaphore(10), 1,000 tasks · hearth-sync";
/// The tokio rows of the semaphore contention, the target's reference.
const SEM_TOKIO: [&str; 2] = [
    "Semaphore(10), 1,000 tasks · tokio::sync",
    "Semaphore(10), 1,000 tasks · tokio::sync (tokio LocalSet)",
];
pub const SEM_PEERS: [&str; 3] = [
    "Semaphore(10), 1,000 tasks · tokio::sync",
    "Semaphore(10), 1,000 tasks · tokio::sync (tokio LocalSet)",
    "Semaphore(10), 1,000 tasks · local-sync",
];

/// Rows on hearth's own executor.
pub const HEARTH_RT: [&str; 9] = [
    "ping-pong · hearth-sync (hearth executor)",
    "ping-pong · tokio::sync (hearth executor)",
    "ping-pong · local-sync (hearth executor)",
    "ping-pong · local-channel (hearth executor)",
    "Mutex, 1,000 tasks · hearth-sync (hearth executor)",
    "Mutex, 1,000 tasks · tokio::sync (hearth executor)",
    "Semaphore(10), 1,000 tasks · hearth-sync (hearth executor)",
    "Semaphore(10), 1,000 tasks · tokio::sync (hearth executor)",
    "Semaphore(10), 1,000 tasks · local-sync (hearth executor)",
];
/// hearth hosted in tokio against tokio's `LocalSet`, both on a
/// current_thread runtime with `enable_all` (what a tokio application has).
pub const HOSTED: [&str; 2] = [
    "ping-pong · hearth-sync (hearth hosted in tokio)",
    "ping-pong · tokio::sync (tokio LocalSet, enable_all)",
];
const HOSTED_PEERS: [&str; 1] = [HOSTED[1]];

const HEARTH_RT_PING_PEERS: [&str; 3] = [HEARTH_RT[1], HEARTH_RT[2], HEARTH_RT[3]];
const HEARTH_RT_MUTEX_PEERS: [&str; 1] = [HEARTH_RT[5]];
const HEARTH_RT_SEM_PEERS: [&str; 1] = [HEARTH_RT[7]];

const fn best_peer(cases: &'static [&'static str], label: &'static str) -> Target {
    Target::RatioToFastestAtMost {
        cases,
        max: 0.5,
        label,
    }
}

pub fn run(config: &Config) -> SuiteReport {
    let config = Config {
        samples: config.samples.min(SAMPLES),
        ..config.clone()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let rt = &rt;
    // For the hosted rows (declared before the suite, which borrows them).
    let rt_all = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rt_all = &rt_all;
    // Dropped before `rt_all` (declaration order reversed): it deregisters
    // from tokio's reactor.
    let hosted = {
        let _inside = rt_all.enter();
        hearth::compat::tokio::LocalExecutor::new().expect("hosted hearth executor")
    };
    let hosted = &hosted;
    let mut suite = Suite::new(
        "sync",
        "hearth-sync against its peers: ns per hop, message, acquire-release",
        &config,
    );
    suite.ops_per_call(MESSAGES);

    suite
        .baseline(PING_PEERS[0], || {
            run_local(ping_pong::<TokioSyncU>(MESSAGES))
        })
        .case(
            PING_HEARTH,
            Some(best_peer(&PING_PEERS, "best peer")),
            || run_local(ping_pong::<HearthSyncU>(MESSAGES)),
        )
        .case(PING_PEERS[1], None, || {
            run_tokio(rt, ping_pong::<TokioSyncU>(MESSAGES))
        })
        .case(PING_PEERS[2], None, || {
            run_local(ping_pong::<LocalSyncU>(MESSAGES))
        })
        .case(PING_PEERS[3], None, || {
            run_local(ping_pong::<FuturesChannelU>(MESSAGES))
        })
        .case(PING_PEERS[4], None, || {
            run_local(ping_pong::<AsyncChannel>(MESSAGES))
        })
        .case(PING_PEERS[5], None, || {
            run_local(ping_pong::<LocalChannel>(MESSAGES))
        })
        .case(PING_FLOOR, None, || run_local(ping_pong_floor(MESSAGES)));

    let cap = Some(CAPACITY);
    suite
        .case(
            BOUNDED_HEARTH,
            Some(best_peer(&BOUNDED_PEERS, "best peer")),
            || run_local(throughput::<HearthSync>(cap, MESSAGES)),
        )
        .case(BOUNDED_PEERS[0], None, || {
            run_local(throughput::<TokioSync>(cap, MESSAGES))
        })
        .case(BOUNDED_PEERS[1], None, || {
            run_tokio(rt, throughput::<TokioSync>(cap, MESSAGES))
        })
        .case(BOUNDED_PEERS[2], None, || {
            run_local(throughput::<LocalSync>(cap, MESSAGES))
        })
        .case(BOUNDED_PEERS[3], None, || {
            run_local(throughput::<FuturesChannel>(cap, MESSAGES))
        })
        .case(BOUNDED_PEERS[4], None, || {
            run_local(throughput::<AsyncChannel>(cap, MESSAGES))
        });

    suite
        .case(
            UNBOUNDED_HEARTH,
            Some(best_peer(&UNBOUNDED_PEERS, "best peer")),
            || run_local(throughput::<HearthSyncU>(None, MESSAGES)),
        )
        .case(UNBOUNDED_PEERS[0], None, || {
            run_local(throughput::<TokioSyncU>(None, MESSAGES))
        })
        .case(UNBOUNDED_PEERS[1], None, || {
            run_tokio(rt, throughput::<TokioSyncU>(None, MESSAGES))
        })
        .case(UNBOUNDED_PEERS[2], None, || {
            run_local(throughput::<LocalSyncU>(None, MESSAGES))
        })
        .case(UNBOUNDED_PEERS[3], None, || {
            run_local(throughput::<FuturesChannelU>(None, MESSAGES))
        })
        .case(UNBOUNDED_PEERS[4], None, || {
            run_local(throughput::<AsyncChannel>(None, MESSAGES))
        })
        .case(UNBOUNDED_PEERS[5], None, || {
            run_local(throughput::<LocalChannel>(None, MESSAGES))
        });

    suite
        .case(MUTEX_HEARTH, Some(best_peer(&MUTEX_PEERS, "tokio")), || {
            run_local(hearth_mutex())
        })
        .case(MUTEX_PEERS[0], None, || run_local(tokio_mutex()))
        .case(MUTEX_PEERS[1], None, || run_tokio(rt, tokio_mutex()))
        .case(SEM_HEARTH, Some(best_peer(&SEM_TOKIO, "tokio")), || {
            run_local(hearth_semaphore())
        })
        .case(SEM_PEERS[0], None, || run_local(tokio_semaphore()))
        .case(SEM_PEERS[1], None, || run_tokio(rt, tokio_semaphore()))
        .case(SEM_PEERS[2], None, || run_local(local_sync_semaphore()));

    // Adopting hearth inside tokio: hosted hearth against a LocalSet on the
    // same kind of runtime; target at least 2× faster.
    suite
        .case(
            HOSTED[0],
            Some(Target::RatioToFastestAtMost {
                cases: &HOSTED_PEERS,
                max: 0.5,
                label: "tokio LocalSet",
            }),
            move || run_hosted(rt_all, hosted, ping_pong::<HearthSyncU>(MESSAGES)),
        )
        .case(HOSTED[1], None, move || {
            run_tokio(rt_all, ping_pong::<TokioSyncU>(MESSAGES))
        });

    // The executor-bound workloads again on hearth's own executor.
    suite
        .case(
            HEARTH_RT[0],
            Some(best_peer(&HEARTH_RT_PING_PEERS, "best peer on hearth")),
            || run_hearth(ping_pong::<HearthSyncU>(MESSAGES)),
        )
        .case(HEARTH_RT[1], None, || {
            run_hearth(ping_pong::<TokioSyncU>(MESSAGES))
        })
        .case(HEARTH_RT[2], None, || {
            run_hearth(ping_pong::<LocalSyncU>(MESSAGES))
        })
        .case(HEARTH_RT[3], None, || {
            run_hearth(ping_pong::<LocalChannel>(MESSAGES))
        })
        .case(
            HEARTH_RT[4],
            Some(best_peer(&HEARTH_RT_MUTEX_PEERS, "tokio on hearth")),
            || run_hearth(hearth_mutex()),
        )
        .case(HEARTH_RT[5], None, || run_hearth(tokio_mutex()))
        .case(
            HEARTH_RT[6],
            Some(best_peer(&HEARTH_RT_SEM_PEERS, "tokio on hearth")),
            || run_hearth(hearth_semaphore()),
        )
        .case(HEARTH_RT[7], None, || run_hearth(tokio_semaphore()))
        .case(HEARTH_RT[8], None, || run_hearth(local_sync_semaphore()));

    suite.note(format!(
        "One run = {MESSAGES} operations: hops (ping-pong, two unbounded channels), messages (throughput), \
         acquire-yield-release rounds ({TASKS} tasks; contention). Every row runs on the same minimal executor \
         with hearth dual wakers (`DualRc`), except the rows marked *tokio LocalSet*, which run on tokio's \
         current_thread runtime, and those marked *hearth executor*, which run on \
         `hearth::block_on` (ping-pong and contention again, where the executor is most of the cost). Peers park on `cx.waker()` (an atomic count per clone/drop under dual wakers); \
         hearth-sync parks on `cx.local_waker()`. futures::channel's bounded channel is made with buffer 1023 \
         (its capacity is buffer + senders). local-channel has no bounded channel. Contention rounds hold the lock \
         across one yield, so every acquire after the first waits in the queue. The *floor* row is ping-pong \
         through the least possible channel (one value slot, one parked waker): what the executor alone costs \
         per hop, which no channel can undercut."
    ));
    suite.note(format!(
        "Targets: ≤ 0.5× the best peer (ping-pong, throughput), ≤ 0.5× tokio (contention). Ping-pong and \
         contention are bounded below by the executor: the floor row is the executor's own cost per hop, \
         hearth-sync adds a nanosecond or two to it and the local peers a few more (their `Waker` clone and drop), \
         so half the best peer is below the floor on any one executor. Unbounded throughput with a producer that \
         never yields is mostly growing a {MESSAGES}-element buffer: a push and a pop per message, the same for \
         hearth-sync, local-sync and local-channel."
    ));
    suite.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_channels(run: &dyn Fn(Tasks)) {
        run(throughput::<HearthSync>(Some(4), 100));
        run(throughput::<TokioSync>(Some(4), 100));
        run(throughput::<LocalSync>(Some(4), 100));
        run(throughput::<FuturesChannel>(Some(4), 100));
        run(throughput::<AsyncChannel>(Some(4), 100));
        run(throughput::<HearthSyncU>(None, 100));
        run(throughput::<TokioSyncU>(None, 100));
        run(throughput::<LocalSyncU>(None, 100));
        run(throughput::<FuturesChannelU>(None, 100));
        run(throughput::<AsyncChannel>(None, 100));
        run(throughput::<LocalChannel>(None, 100));
        run(ping_pong::<HearthSyncU>(100));
        run(ping_pong::<TokioSyncU>(100));
        run(ping_pong::<LocalSyncU>(100));
        run(ping_pong::<FuturesChannelU>(100));
        run(ping_pong::<AsyncChannel>(100));
        run(ping_pong::<LocalChannel>(100));
        run(ping_pong_floor(100));
    }

    #[test]
    fn workloads_complete_on_both_executors() {
        all_channels(&run_local);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        all_channels(&|tasks| run_tokio(&rt, tasks));
        all_channels(&run_hearth);
    }
}
