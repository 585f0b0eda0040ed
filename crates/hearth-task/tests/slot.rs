//! `LocalWakerSlot`.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::Cell;
use std::rc::Rc;

use hearth_task::{LocalWake, LocalWaker, LocalWakerSlot};

struct Target {
    wakes: Cell<usize>,
}

impl LocalWake for Target {
    fn wake(self: Rc<Self>) {
        self.wakes.set(self.wakes.get() + 1);
    }
}

#[test]
fn register_skips_clone_for_same_task() {
    let t = Rc::new(Target {
        wakes: Cell::new(0),
    });
    let w: LocalWaker = t.clone().into();
    let slot = LocalWakerSlot::new();
    assert!(!slot.is_registered());
    slot.register(&w);
    assert_eq!(Rc::strong_count(&t), 3);
    for _ in 0..10 {
        slot.register(&w);
    }
    assert_eq!(Rc::strong_count(&t), 3, "no clone for the same task");
    assert!(slot.is_registered());
}

#[test]
fn register_replaces_other_task() {
    let a = Rc::new(Target {
        wakes: Cell::new(0),
    });
    let b = Rc::new(Target {
        wakes: Cell::new(0),
    });
    let slot = LocalWakerSlot::new();
    slot.register(&a.clone().into());
    slot.register(&b.clone().into());
    assert_eq!(Rc::strong_count(&a), 1, "the old waker was dropped");
    assert!(slot.wake());
    assert_eq!((a.wakes.get(), b.wakes.get()), (0, 1));
    assert_eq!(Rc::strong_count(&b), 1, "wake consumed the stored waker");
}

#[test]
fn wake_and_take_empty_the_slot() {
    let t = Rc::new(Target {
        wakes: Cell::new(0),
    });
    let slot = LocalWakerSlot::default();
    assert!(!slot.wake());
    slot.register(&t.clone().into());
    let taken = slot.take().unwrap();
    assert!(slot.take().is_none());
    assert!(!slot.wake());
    taken.wake();
    assert_eq!(t.wakes.get(), 1);
    assert!(format!("{slot:?}").contains("registered: false"));
}

#[test]
fn reentrant_register_during_wake() {
    struct Reenter {
        slot: Rc<LocalWakerSlot>,
        me: Cell<Option<LocalWaker>>,
        wakes: Cell<usize>,
    }
    impl LocalWake for Reenter {
        fn wake(self: Rc<Self>) {
            self.wakes.set(self.wakes.get() + 1);
            if let Some(me) = self.me.take() {
                self.slot.register(&me); // registers again from inside the wake
            }
        }
    }
    let slot = Rc::new(LocalWakerSlot::new());
    let t = Rc::new(Reenter {
        slot: slot.clone(),
        me: Cell::new(None),
        wakes: Cell::new(0),
    });
    let w: LocalWaker = t.clone().into();
    t.me.set(Some(w.clone()));
    slot.register(&w);
    assert!(slot.wake());
    assert!(slot.is_registered());
    assert!(slot.wake());
    assert_eq!(t.wakes.get(), 2);
    drop(w);
    assert_eq!(Rc::strong_count(&t), 1);
}
