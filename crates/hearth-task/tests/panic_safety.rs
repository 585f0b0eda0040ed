//! A panic in user code of a `DualWake` target (`wake_local`, `wake_remote`,
//! `T::drop`) skips nothing: no leak, no double drop. Under Miri a leaked
//! allocation fails the run; natively the `Shared` part's drop counts frees.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;

use hearth_task::dual::{DualRc, DualWake};

/// Counts its own drop: the allocation was freed exactly when it drops.
struct Freed(Arc<AtomicUsize>);

impl Drop for Freed {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

struct Target {
    panic_on_wake: bool,
    panic_on_drop: bool,
    wakes: Rc<Cell<usize>>,
    drops: Rc<Cell<usize>>,
}

impl DualWake for Target {
    type Shared = Freed;
    fn wake_local(this: &DualRc<Self>) {
        this.wakes.set(this.wakes.get() + 1);
        if this.panic_on_wake {
            panic!("wake_local");
        }
    }
    fn wake_remote(_: &Freed, _: &Waker) {
        panic!("wake_remote");
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if self.panic_on_drop {
            panic!("drop");
        }
    }
}

/// The target, its wake and drop counts, and its free count.
type Made = (
    DualRc<Target>,
    Rc<Cell<usize>>,
    Rc<Cell<usize>>,
    Arc<AtomicUsize>,
);

fn target(panic_on_wake: bool, panic_on_drop: bool) -> Made {
    let wakes = Rc::new(Cell::new(0));
    let drops = Rc::new(Cell::new(0));
    let freed = Arc::new(AtomicUsize::new(0));
    let t = DualRc::new(
        Target {
            panic_on_wake,
            panic_on_drop,
            wakes: wakes.clone(),
            drops: drops.clone(),
        },
        Freed(freed.clone()),
    );
    (t, wakes, drops, freed)
}

#[test]
fn panicking_drop_of_the_target_still_frees() {
    let (t, _, drops, freed) = target(false, true);
    assert!(catch_unwind(AssertUnwindSafe(move || drop(t))).is_err());
    assert_eq!(drops.get(), 1);
    assert_eq!(freed.load(Ordering::Relaxed), 1);
}

#[test]
fn panicking_drop_with_a_waker_left_frees_on_the_waker_drop() {
    let (t, _, drops, freed) = target(false, true);
    let waker = t.waker();
    assert!(catch_unwind(AssertUnwindSafe(move || drop(t))).is_err());
    assert_eq!(drops.get(), 1);
    assert_eq!(freed.load(Ordering::Relaxed), 0);
    waker.wake_by_ref(); // released: a no-op, no panic
    drop(waker);
    assert_eq!(freed.load(Ordering::Relaxed), 1);
}

#[test]
fn panicking_local_wake_by_value_gives_up_the_count() {
    for by_waker in [false, true] {
        let (t, wakes, drops, freed) = target(true, false);
        if by_waker {
            let w = t.waker();
            assert!(catch_unwind(AssertUnwindSafe(move || w.wake())).is_err());
        } else {
            let lw = t.local_waker().clone();
            assert!(catch_unwind(AssertUnwindSafe(move || lw.wake())).is_err());
        }
        assert_eq!(wakes.get(), 1);
        assert_eq!(t.waker_count(), 0, "by_waker = {by_waker}");
        assert_eq!(t.local_count(), 1, "by_waker = {by_waker}");
        drop(t);
        assert_eq!(drops.get(), 1);
        assert_eq!(freed.load(Ordering::Relaxed), 1);
    }
}

#[test]
fn panicking_remote_wake_by_value_gives_up_the_count() {
    let (t, _, _, freed) = target(false, false);
    let w = t.waker();
    let panicked =
        std::thread::spawn(move || catch_unwind(AssertUnwindSafe(move || w.wake())).is_err())
            .join()
            .unwrap();
    assert!(panicked);
    assert_eq!(t.waker_count(), 0);
    drop(t);
    assert_eq!(freed.load(Ordering::Relaxed), 1);
}
