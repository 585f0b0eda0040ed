//! The atomics facade: every atomic of hearth goes through this module.
//!
//! In a normal build it re-exports `core::sync::atomic`. Two builds swap it:
//!
//! - `--cfg loom`: loom's model-checked atomics, for the loom models.
//! - the `count-atomics` feature: thin wrappers that count every
//!   read-modify-write operation (`fetch_*`, `swap`, `compare_exchange*`) on the
//!   calling thread. Loads, stores and fences are not counted: on the targets
//!   hearth cares about they are plain moves, not locked instructions. Read the
//!   count with `counting::rmw_count` (feature `count-atomics`).
//!
//! hearth's promise "the local path performs no atomic read-modify-write" is a
//! test over this counter, not a claim.
//!
//! What it cannot see: only atomics declared through this module are counted
//! (those of hearth-task, hearth-future, hearth-sync and hearth). `Arc`
//! clones and drops, `Mutex`, `std::thread::park`/`unpark`, `Arc`-based
//! `Waker`s and the atomics of any other crate go
//! straight to `core` and are invisible to it. A count of 0 therefore says
//! "hearth's code took no atomic path"; to check a whole program, look at
//! what else it runs on that path (or count locked instructions with a
//! hardware counter, e.g. `perf stat -e mem_inst_retired.lock_loads` on
//! recent Intel CPUs).

#[cfg(loom)]
pub use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(all(not(loom), not(feature = "count-atomics")))]
pub use core::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(all(not(loom), feature = "count-atomics"))]
pub use core::sync::atomic::{fence, Ordering};
#[cfg(all(not(loom), feature = "count-atomics"))]
pub use counting::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

/// Counting wrappers around the `core` atomics (feature `count-atomics`).
#[cfg(all(not(loom), feature = "count-atomics"))]
pub mod counting {
    use core::cell::Cell;
    use core::sync::atomic as core_atomic;
    use core::sync::atomic::Ordering;

    std::thread_local! {
        static RMW: Cell<u64> = const { Cell::new(0) };
    }

    /// The number of atomic read-modify-write operations the calling thread has
    /// performed through this facade since it started.
    pub fn rmw_count() -> u64 {
        RMW.with(Cell::get)
    }

    /// Runs `f` and returns its result with the number of atomic
    /// read-modify-write operations it performed on the calling thread.
    ///
    /// ```
    /// # #[cfg(feature = "count-atomics")] {
    /// use hearth_task::atomic::{counting, AtomicUsize, Ordering};
    /// let a = AtomicUsize::new(0);
    /// let ((), n) = counting::count(|| {
    ///     a.fetch_add(1, Ordering::Relaxed);
    ///     a.load(Ordering::Relaxed);
    /// });
    /// assert_eq!(n, 1);
    /// # }
    /// ```
    pub fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
        let before = rmw_count();
        let r = f();
        (r, rmw_count() - before)
    }

    #[inline]
    fn bump() {
        RMW.with(|c| c.set(c.get() + 1));
    }

    macro_rules! counted_int {
        ($name:ident, $int:ty) => {
            #[doc = concat!("A `core::sync::atomic::", stringify!($name), "` whose read-modify-write operations are counted.")]
            #[derive(Default)]
            #[repr(transparent)]
            pub struct $name(core_atomic::$name);

            impl $name {
                /// Creates a new atomic.
                pub const fn new(v: $int) -> Self {
                    Self(core_atomic::$name::new(v))
                }
                /// Loads the value (not counted).
                #[inline]
                pub fn load(&self, order: Ordering) -> $int {
                    self.0.load(order)
                }
                /// Stores a value (not counted).
                #[inline]
                pub fn store(&self, v: $int, order: Ordering) {
                    self.0.store(v, order)
                }
                /// Returns a mutable reference to the value (not counted).
                #[inline]
                pub fn get_mut(&mut self) -> &mut $int {
                    self.0.get_mut()
                }
                /// Consumes the atomic and returns the value.
                #[inline]
                pub fn into_inner(self) -> $int {
                    self.0.into_inner()
                }
                /// Swaps the value (counted).
                #[inline]
                pub fn swap(&self, v: $int, order: Ordering) -> $int {
                    bump();
                    self.0.swap(v, order)
                }
                /// Compare-and-exchange (counted).
                #[inline]
                pub fn compare_exchange(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    bump();
                    self.0.compare_exchange(current, new, success, failure)
                }
                /// Weak compare-and-exchange (counted).
                #[inline]
                pub fn compare_exchange_weak(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    bump();
                    self.0.compare_exchange_weak(current, new, success, failure)
                }
                /// Bitwise or (counted).
                #[inline]
                pub fn fetch_or(&self, v: $int, order: Ordering) -> $int {
                    bump();
                    self.0.fetch_or(v, order)
                }
                /// Bitwise and (counted).
                #[inline]
                pub fn fetch_and(&self, v: $int, order: Ordering) -> $int {
                    bump();
                    self.0.fetch_and(v, order)
                }
            }
        };
    }

    macro_rules! counted_arith {
        ($name:ident, $int:ty) => {
            impl $name {
                /// Adds (counted).
                #[inline]
                pub fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                    bump();
                    self.0.fetch_add(v, order)
                }
                /// Subtracts (counted).
                #[inline]
                pub fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                    bump();
                    self.0.fetch_sub(v, order)
                }
            }
        };
    }

    counted_int!(AtomicUsize, usize);
    counted_arith!(AtomicUsize, usize);
    counted_int!(AtomicU64, u64);
    counted_arith!(AtomicU64, u64);
    counted_int!(AtomicU32, u32);
    counted_arith!(AtomicU32, u32);
    counted_int!(AtomicBool, bool);

    /// A `core::sync::atomic::AtomicPtr` whose read-modify-write operations are counted.
    #[repr(transparent)]
    pub struct AtomicPtr<T>(core_atomic::AtomicPtr<T>);

    impl<T> AtomicPtr<T> {
        /// Creates a new atomic pointer.
        pub const fn new(p: *mut T) -> Self {
            Self(core_atomic::AtomicPtr::new(p))
        }
        /// Loads the pointer (not counted).
        #[inline]
        pub fn load(&self, order: Ordering) -> *mut T {
            self.0.load(order)
        }
        /// Stores a pointer (not counted).
        #[inline]
        pub fn store(&self, p: *mut T, order: Ordering) {
            self.0.store(p, order)
        }
        /// Swaps the pointer (counted).
        #[inline]
        pub fn swap(&self, p: *mut T, order: Ordering) -> *mut T {
            bump();
            self.0.swap(p, order)
        }
        /// Compare-and-exchange (counted).
        #[inline]
        pub fn compare_exchange(
            &self,
            current: *mut T,
            new: *mut T,
            success: Ordering,
            failure: Ordering,
        ) -> Result<*mut T, *mut T> {
            bump();
            self.0.compare_exchange(current, new, success, failure)
        }
        /// Weak compare-and-exchange (counted).
        #[inline]
        pub fn compare_exchange_weak(
            &self,
            current: *mut T,
            new: *mut T,
            success: Ordering,
            failure: Ordering,
        ) -> Result<*mut T, *mut T> {
            bump();
            self.0.compare_exchange_weak(current, new, success, failure)
        }
    }
}
