//! The executors of the `executor` suite behind one small interface, so every
//! workload (`suites/executor.rs`) is the same generic code for all of them.
//!
//! Each [`Peer`] owns one runtime, built once per case and reused for every
//! run: building a runtime is not what the suite measures. Spawning goes
//! through a [`Spawn`] value: a zero-sized handle for runtimes that find their
//! executor in a thread-local (tokio, monoio, glommio, hearth), the executor
//! itself for those that hand out a spawner (async-executor, futures).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A single-threaded runtime under test.
pub trait Peer {
    type Spawner: Spawn;

    /// The handle tasks spawn through.
    fn spawner(&self) -> Self::Spawner;

    /// Runs `fut` to completion on this thread; spawned tasks run meanwhile.
    fn block_on<F: Future>(&mut self, fut: F) -> F::Output;
}

/// Spawning and yielding, as each runtime offers them.
pub trait Spawn: Clone + 'static {
    /// Spawns `fut` as a task; the returned future is its join handle
    /// (output unwrapped where the runtime returns a `Result`).
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static;

    /// The runtime's own yield if it has one, otherwise [`YieldOnce`].
    fn yield_now() -> impl Future<Output = ()>;
}

/// A join handle whose output is a `Result`, unwrapped: what tokio's and
/// hearth's adapters return. A plain wrapper of the handle's size (an
/// `async` block around the handle would add its state, and make the
/// spawn workload's `Vec` of a million handles twice monoio's).
pub struct Unwrapped<H>(H);

impl<T, E: std::fmt::Debug, H: Future<Output = Result<T, E>> + Unpin> Future for Unwrapped<H> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("task failed"))
    }
}

/// The portable yield, for every runtime that has none of its own: wakes its
/// task through `cx.waker()` and returns `Pending` once. (futures-lite's
/// `yield_now`, which glommio's own `yield_now` is, does exactly this.)
pub struct YieldOnce(bool);

impl YieldOnce {
    pub fn new() -> Self {
        YieldOnce(false)
    }
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

// ---- tokio: current_thread runtime + LocalSet ----

pub struct Tokio {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
}

impl Tokio {
    /// A current_thread runtime with its I/O and time drivers (what
    /// `#[tokio::main(flavor = "current_thread")]` builds), and a `LocalSet`.
    pub fn new() -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Tokio {
            rt,
            local: tokio::task::LocalSet::new(),
        })
    }
}

#[derive(Clone, Copy)]
pub struct TokioSpawn;

impl Peer for Tokio {
    type Spawner = TokioSpawn;

    fn spawner(&self) -> TokioSpawn {
        TokioSpawn
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        self.rt.block_on(self.local.run_until(fut))
    }
}

impl Spawn for TokioSpawn {
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = tokio::task::spawn_local(fut);
        Unwrapped(handle)
    }

    fn yield_now() -> impl Future<Output = ()> {
        tokio::task::yield_now()
    }
}

// ---- monoio: legacy (epoll) or io_uring driver ----

pub struct Monoio<D> {
    rt: monoio::Runtime<D>,
}

impl Monoio<monoio::LegacyDriver> {
    pub fn legacy() -> Result<Self, String> {
        let rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Monoio { rt })
    }
}

impl Monoio<monoio::IoUringDriver> {
    pub fn io_uring() -> Result<Self, String> {
        let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Monoio { rt })
    }
}

#[derive(Clone, Copy)]
pub struct MonoioSpawn;

impl<D: monoio::Driver> Peer for Monoio<D> {
    type Spawner = MonoioSpawn;

    fn spawner(&self) -> MonoioSpawn {
        MonoioSpawn
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }
}

impl Spawn for MonoioSpawn {
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        monoio::spawn(fut)
    }

    /// monoio has no yield of its own.
    fn yield_now() -> impl Future<Output = ()> {
        YieldOnce::new()
    }
}

// ---- glommio: LocalExecutor ----

pub struct Glommio {
    ex: glommio::LocalExecutor,
}

impl Glommio {
    pub fn new() -> Result<Self, String> {
        let ex = glommio::LocalExecutorBuilder::default()
            .make()
            .map_err(|e| e.to_string())?;
        Ok(Glommio { ex })
    }
}

#[derive(Clone, Copy)]
pub struct GlommioSpawn;

impl Peer for Glommio {
    type Spawner = GlommioSpawn;

    fn spawner(&self) -> GlommioSpawn {
        GlommioSpawn
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        self.ex.run(fut)
    }
}

impl Spawn for GlommioSpawn {
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        glommio::spawn_local(fut)
    }

    /// glommio's own unconditional yield (`ExecutorProxy::yield_now`).
    async fn yield_now() {
        glommio::executor().yield_now().await
    }
}

// ---- async-executor: LocalExecutor, driven by futures-lite's block_on ----

pub struct AsyncExecutor {
    ex: Rc<async_executor::LocalExecutor<'static>>,
}

impl AsyncExecutor {
    pub fn new() -> Result<Self, String> {
        Ok(AsyncExecutor {
            ex: Rc::new(async_executor::LocalExecutor::new()),
        })
    }
}

#[derive(Clone)]
pub struct AsyncExecutorSpawn(Rc<async_executor::LocalExecutor<'static>>);

impl Peer for AsyncExecutor {
    type Spawner = AsyncExecutorSpawn;

    fn spawner(&self) -> AsyncExecutorSpawn {
        AsyncExecutorSpawn(self.ex.clone())
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        futures_lite::future::block_on(self.ex.run(fut))
    }
}

impl Spawn for AsyncExecutorSpawn {
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.0.spawn(fut)
    }

    /// async-executor has no yield of its own.
    fn yield_now() -> impl Future<Output = ()> {
        YieldOnce::new()
    }
}

// ---- futures: LocalPool ----

pub struct LocalPool {
    pool: futures::executor::LocalPool,
}

impl LocalPool {
    pub fn new() -> Result<Self, String> {
        Ok(LocalPool {
            pool: futures::executor::LocalPool::new(),
        })
    }
}

#[derive(Clone)]
pub struct LocalPoolSpawn(futures::executor::LocalSpawner);

impl Peer for LocalPool {
    type Spawner = LocalPoolSpawn;

    fn spawner(&self) -> LocalPoolSpawn {
        LocalPoolSpawn(self.pool.spawner())
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        self.pool.run_until(fut)
    }
}

impl Spawn for LocalPoolSpawn {
    /// futures' join handle: `spawn_local_with_handle`'s `RemoteHandle`.
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        use futures::task::LocalSpawnExt;
        self.0
            .spawn_local_with_handle(fut)
            .expect("LocalPool is shut down")
    }

    /// futures has no yield of its own.
    fn yield_now() -> impl Future<Output = ()> {
        YieldOnce::new()
    }
}

// ---- hearth: Executor ----

pub struct Hearth {
    ex: hearth::Executor,
}

impl Hearth {
    pub fn new() -> Result<Self, String> {
        Ok(Hearth {
            ex: hearth::Executor::new(),
        })
    }
}

#[derive(Clone, Copy)]
pub struct HearthSpawn;

/// hearth's executor hosted on a tokio current_thread runtime with
/// `enable_all` (`hearth::compat::tokio`): what a tokio user gets by adopting
/// hearth inside tokio. Tasks spawn with `hearth::spawn_local`.
pub struct HearthInTokio {
    // Dropped first: the hosted executor deregisters from tokio's reactor.
    ex: hearth::compat::tokio::LocalExecutor,
    rt: tokio::runtime::Runtime,
}

impl HearthInTokio {
    pub fn new() -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let ex = {
            let _inside = rt.enter();
            hearth::compat::tokio::LocalExecutor::new().map_err(|e| e.to_string())?
        };
        Ok(HearthInTokio { ex, rt })
    }
}

impl Peer for HearthInTokio {
    type Spawner = HearthSpawn;

    fn spawner(&self) -> HearthSpawn {
        HearthSpawn
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        self.rt.block_on(self.ex.run_until(fut))
    }
}

impl Peer for Hearth {
    type Spawner = HearthSpawn;

    fn spawner(&self) -> HearthSpawn {
        HearthSpawn
    }

    fn block_on<F: Future>(&mut self, fut: F) -> F::Output {
        self.ex.run_until(fut)
    }
}

impl Spawn for HearthSpawn {
    fn spawn<F>(&self, fut: F) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = hearth::spawn_local(fut);
        Unwrapped(handle)
    }

    fn yield_now() -> impl Future<Output = ()> {
        hearth::yield_now()
    }
}
