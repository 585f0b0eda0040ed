//! `select!`: wait for the first of several branches, polling each branch's
//! future only on its first poll and after its own waker fired.

use core::cell::Cell;
use core::ops::ControlFlow;
use core::task::{Context, Poll};

use crate::raw::WakeSet;

/// What polling one branch did (used by the `select!` expansion).
#[doc(hidden)]
#[derive(Debug)]
pub enum Branch<T> {
    /// Still running.
    Pending,
    /// Finished, but its output did not match the branch's pattern: the
    /// branch is disabled for the rest of the `select!`.
    Disabled,
    /// Finished and matched: the `select!` completes with this output.
    Won(T),
}

/// The state of one `select!` (used by its expansion): the wake state and
/// the disabled branches.
#[doc(hidden)]
pub struct Select {
    set: WakeSet,
    /// Bit `i`: branch `i` is disabled (precondition false, or its output did
    /// not match its pattern).
    disabled: u64,
    /// `biased;`: poll in declaration order instead of from a random start.
    biased: bool,
}

impl Select {
    /// The state of a `select!` of `n <= 64` branches, some of them
    /// `disabled` from the start (bit `i` for branch `i`).
    pub fn new(n: usize, biased: bool, disabled: u64) -> Self {
        assert!(n <= 64, "select! supports at most 64 branches");
        Select {
            set: WakeSet::new(n),
            disabled,
            biased,
        }
    }

    fn all(&self) -> u64 {
        let n = self.set.len();
        if n == 64 {
            u64::MAX
        } else {
            (1u64 << n) - 1
        }
    }

    /// Polls the branches that are due: `f(i, cx)` polls branch `i`.
    /// `Ready(Some(out))` when a branch won, `Ready(None)` when every branch
    /// is disabled.
    pub fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(usize, &mut Context<'_>) -> Branch<T>,
    ) -> Poll<Option<T>> {
        let all = self.all();
        if self.disabled & all == all {
            return Poll::Ready(None);
        }
        let n = self.set.len();
        // A new state polls every branch (disabled ones are skipped below).
        self.set.prepare(cx);
        if !self.biased {
            self.set.set_start(random_below(n));
        }
        let disabled = &mut self.disabled;
        let mut won = None;
        self.set.poll(cx, |i, cx| {
            if *disabled & (1 << i) != 0 {
                return ControlFlow::Continue(());
            }
            match f(i, cx) {
                Branch::Pending => ControlFlow::Continue(()),
                Branch::Disabled => {
                    *disabled |= 1 << i;
                    ControlFlow::Continue(())
                }
                Branch::Won(v) => {
                    won = Some(v);
                    ControlFlow::Break(())
                }
            }
        });
        match won {
            Some(v) => Poll::Ready(Some(v)),
            None if self.disabled & all == all => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

std::thread_local! {
    /// xorshift32 state for the start branch of unbiased `select!`s.
    static RNG: Cell<u32> = const { Cell::new(0x9E37_79B9) };
}

/// A pseudo-random number in `0..n` (`0` for `n <= 1`).
pub(crate) fn random_below(n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        r.set(x);
        // Lemire's multiply-shift: uniform enough for fairness, no division.
        ((u64::from(x) * n as u64) >> 32) as usize
    })
}

/// Waits on several branches at once and runs the handler of the first one
/// whose future completes and whose output matches its pattern.
///
/// ```text
/// select! {
///     [biased;]
///     <pattern> = <future> [, if <precondition>] => <handler>,
///     ...
///     [else => <handler>]
/// }
/// ```
///
/// The semantics are tokio's `select!`:
///
/// 1. Every precondition is evaluated; a branch whose precondition is
///    `false` is disabled. Then every `<future>` expression is evaluated, in
///    order (also those of disabled branches).
/// 2. The futures of the enabled branches are polled. When one completes, its
///    output is matched against its pattern: on a match, every branch
///    future is dropped (in declaration order) and the branch's handler runs
///    with the pattern's bindings; on a mismatch the branch is disabled and
///    the others keep running.
/// 3. When every branch is disabled, the `else` handler runs (without an
///    `else` branch, `select!` panics).
///
/// Without `biased;` each poll starts at a pseudo-random branch, so no branch
/// can starve the others; with `biased;` branches are polled in declaration
/// order.
///
/// Unlike tokio's, polling is precise: a branch's future is polled on the
/// first poll and afterwards only after its own waker fired. Each branch gets
/// its own waker from one allocation (the wake state), made on the first
/// poll. Handlers run outside of any loop of the macro, so `break`,
/// `continue`, `return` and `?` in a handler act on the code around the
/// `select!`. At most 64 branches.
///
/// # Examples
///
/// ```
/// use std::future::{pending, ready};
///
/// futures::executor::block_on(async {
///     let out = hearth_future::select! {
///         v = pending::<u32>() => v,
///         v = ready(7) => v * 2,
///     };
///     assert_eq!(out, 14);
///
///     // A pattern that does not match disables its branch; when no branch
///     // is left, `else` runs.
///     let out = hearth_future::select! {
///         biased;
///         Some(v) = ready(None::<u32>) => v,
///         Ok(v) = ready(Err::<u32, ()>(())) => v,
///         else => 0,
///     };
///     assert_eq!(out, 0);
///
///     // Handlers may `break` out of the caller's loop.
///     let mut n = 0;
///     loop {
///         hearth_future::select! {
///             _ = ready(()), if n < 3 => n += 1,
///             else => break,
///         }
///     }
///     assert_eq!(n, 3);
/// });
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($t:tt)*) => {
        $crate::__select!(@parse [true] [] [] [
            (_0 0 __f0) (_1 1 __f1) (_2 2 __f2) (_3 3 __f3) (_4 4 __f4) (_5 5 __f5) (_6 6 __f6) (_7 7 __f7)
            (_8 8 __f8) (_9 9 __f9) (_10 10 __f10) (_11 11 __f11) (_12 12 __f12) (_13 13 __f13) (_14 14 __f14) (_15 15 __f15)
            (_16 16 __f16) (_17 17 __f17) (_18 18 __f18) (_19 19 __f19) (_20 20 __f20) (_21 21 __f21) (_22 22 __f22) (_23 23 __f23)
            (_24 24 __f24) (_25 25 __f25) (_26 26 __f26) (_27 27 __f27) (_28 28 __f28) (_29 29 __f29) (_30 30 __f30) (_31 31 __f31)
            (_32 32 __f32) (_33 33 __f33) (_34 34 __f34) (_35 35 __f35) (_36 36 __f36) (_37 37 __f37) (_38 38 __f38) (_39 39 __f39)
            (_40 40 __f40) (_41 41 __f41) (_42 42 __f42) (_43 43 __f43) (_44 44 __f44) (_45 45 __f45) (_46 46 __f46) (_47 47 __f47)
            (_48 48 __f48) (_49 49 __f49) (_50 50 __f50) (_51 51 __f51) (_52 52 __f52) (_53 53 __f53) (_54 54 __f54) (_55 55 __f55)
            (_56 56 __f56) (_57 57 __f57) (_58 58 __f58) (_59 59 __f59) (_60 60 __f60) (_61 61 __f61) (_62 62 __f62) (_63 63 __f63)
        ] $($t)*)
    };
    ($($t:tt)*) => {
        $crate::__select!(@unbiased $($t)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select {
    // ---- Parsing ----
    // Branches are collected as `(variant index name [pattern] [future]
    // [precondition] [handler])`; the else handler as `[handler]`.
    (@parse $b:tt $br:tt [] $pool:tt else => $h:block , $($rest:tt)*) => {
        $crate::__select!(@parse $b $br [$h] $pool $($rest)*)
    };
    (@parse $b:tt $br:tt [] $pool:tt else => $h:block $($rest:tt)*) => {
        $crate::__select!(@parse $b $br [$h] $pool $($rest)*)
    };
    (@parse $b:tt $br:tt [] $pool:tt else => $h:expr , $($rest:tt)*) => {
        $crate::__select!(@parse $b $br [$h] $pool $($rest)*)
    };
    (@parse $b:tt $br:tt [] $pool:tt else => $h:expr) => {
        $crate::__select!(@parse $b $br [$h] $pool)
    };
    (@parse $b:tt $br:tt [$($e:tt)+] $pool:tt else $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one `else` branch")
    };
    (@parse $b:tt [$($br:tt)*] $e:tt [$next:tt $($pool:tt)*] $($rest:tt)+) => {
        $crate::__select!(@pat $b [$($br)*] $e [$($pool)*] $next [] $($rest)+)
    };
    (@parse $b:tt $br:tt $e:tt [] $($rest:tt)+) => {
        ::core::compile_error!("select! supports at most 64 branches")
    };
    (@parse $b:tt $br:tt $e:tt $pool:tt) => {
        $crate::__select!(@emit $b $br $e)
    };
    // The pattern: every token up to the `=`.
    (@pat $b:tt $br:tt $e:tt $pool:tt $next:tt [$($p:tt)+] = $f:expr , if $c:expr => $($rest:tt)*) => {
        $crate::__select!(@handler $b $br $e $pool $next [$($p)+] [$f] [$c] $($rest)*)
    };
    (@pat $b:tt $br:tt $e:tt $pool:tt $next:tt [$($p:tt)+] = $f:expr => $($rest:tt)*) => {
        $crate::__select!(@handler $b $br $e $pool $next [$($p)+] [$f] [true] $($rest)*)
    };
    (@pat $b:tt $br:tt $e:tt $pool:tt $next:tt [$($p:tt)*] = $($rest:tt)*) => {
        ::core::compile_error!("select!: expected `<pattern> = <future> [, if <condition>] => <handler>`")
    };
    (@pat $b:tt $br:tt $e:tt $pool:tt $next:tt [$($p:tt)*] $t:tt $($rest:tt)*) => {
        $crate::__select!(@pat $b $br $e $pool $next [$($p)* $t] $($rest)*)
    };
    (@pat $b:tt $br:tt $e:tt $pool:tt $next:tt [$($p:tt)*]) => {
        ::core::compile_error!("select!: expected `<pattern> = <future> => <handler>`")
    };
    // The handler: a block (comma optional) or an expression.
    (@handler $b:tt [$($br:tt)*] $e:tt $pool:tt ($v:ident $k:tt $n:ident) $p:tt $f:tt $c:tt $h:block , $($rest:tt)*) => {
        $crate::__select!(@parse $b [$($br)* ($v $k $n $p $f $c [$h])] $e $pool $($rest)*)
    };
    (@handler $b:tt [$($br:tt)*] $e:tt $pool:tt ($v:ident $k:tt $n:ident) $p:tt $f:tt $c:tt $h:block $($rest:tt)*) => {
        $crate::__select!(@parse $b [$($br)* ($v $k $n $p $f $c [$h])] $e $pool $($rest)*)
    };
    (@handler $b:tt [$($br:tt)*] $e:tt $pool:tt ($v:ident $k:tt $n:ident) $p:tt $f:tt $c:tt $h:expr , $($rest:tt)*) => {
        $crate::__select!(@parse $b [$($br)* ($v $k $n $p $f $c [$h])] $e $pool $($rest)*)
    };
    (@handler $b:tt [$($br:tt)*] $e:tt $pool:tt ($v:ident $k:tt $n:ident) $p:tt $f:tt $c:tt $h:expr) => {
        $crate::__select!(@parse $b [$($br)* ($v $k $n $p $f $c [$h])] $e $pool)
    };

    // ---- Expansion ----
    (@emit [$b:tt] [$(($v:ident $k:tt $n:ident [$($p:tt)+] [$f:expr] [$c:expr] [$h:expr]))*] $e:tt) => {{
        #[allow(non_camel_case_types, dead_code)]
        enum __Out<$($v,)*> {
            $($v($v),)*
            __Disabled,
        }
        let mut __disabled: u64 = 0;
        $( if !$c { __disabled |= 1u64 << $k; } )*
        let __out = {
            $( let $n = $f; )*
            $crate::__select!(@pin [] $($n)*);
            let mut __sel = $crate::__private::Select::new(
                0usize $( + { let _ = $k; 1usize } )*,
                $b,
                __disabled,
            );
            match ::core::future::poll_fn(|cx| {
                __sel.poll(cx, |__i, cx| match __i {
                    $(
                        $k => match ::core::future::Future::poll($n.as_mut(), cx) {
                            ::core::task::Poll::Ready(__v) => {
                                #[allow(unused_variables, unreachable_patterns, unused_mut)]
                                let __matches = match &__v {
                                    $crate::__select_clean!(@ [] [] $($p)+) => true,
                                    _ => false,
                                };
                                if __matches {
                                    $crate::__private::Branch::Won(__Out::$v(__v))
                                } else {
                                    $crate::__private::Branch::Disabled
                                }
                            }
                            ::core::task::Poll::Pending => $crate::__private::Branch::Pending,
                        },
                    )*
                    _ => ::core::unreachable!(),
                })
            })
            .await
            {
                ::core::option::Option::Some(__o) => __o,
                ::core::option::Option::None => __Out::__Disabled,
            }
        };
        #[allow(unreachable_patterns)]
        match __out {
            $( __Out::$v($($p)+) => $h, )*
            __Out::__Disabled => $crate::__select!(@else $e),
            _ => ::core::unreachable!("select!: a branch output matched its pattern once"),
        }
    }};
    (@else []) => {
        ::core::panic!("all branches are disabled and there is no else branch")
    };
    (@else [$h:expr]) => {
        $h
    };
    // Pins the futures in reverse order, so that they drop in declaration
    // order (as tokio's, which live in a tuple).
    (@pin [$($r:ident)*] $n:ident $($rest:ident)*) => {
        $crate::__select!(@pin [$n $($r)*] $($rest)*)
    };
    (@pin [$($r:ident)*]) => {
        $( let mut $r = ::core::pin::pin!($r); )*
    };
    (@unbiased $($t:tt)*) => {
        $crate::__select!(@parse [false] [] [] [
            (_0 0 __f0) (_1 1 __f1) (_2 2 __f2) (_3 3 __f3) (_4 4 __f4) (_5 5 __f5) (_6 6 __f6) (_7 7 __f7)
            (_8 8 __f8) (_9 9 __f9) (_10 10 __f10) (_11 11 __f11) (_12 12 __f12) (_13 13 __f13) (_14 14 __f14) (_15 15 __f15)
            (_16 16 __f16) (_17 17 __f17) (_18 18 __f18) (_19 19 __f19) (_20 20 __f20) (_21 21 __f21) (_22 22 __f22) (_23 23 __f23)
            (_24 24 __f24) (_25 25 __f25) (_26 26 __f26) (_27 27 __f27) (_28 28 __f28) (_29 29 __f29) (_30 30 __f30) (_31 31 __f31)
            (_32 32 __f32) (_33 33 __f33) (_34 34 __f34) (_35 35 __f35) (_36 36 __f36) (_37 37 __f37) (_38 38 __f38) (_39 39 __f39)
            (_40 40 __f40) (_41 41 __f41) (_42 42 __f42) (_43 43 __f43) (_44 44 __f44) (_45 45 __f45) (_46 46 __f46) (_47 47 __f47)
            (_48 48 __f48) (_49 49 __f49) (_50 50 __f50) (_51 51 __f51) (_52 52 __f52) (_53 53 __f53) (_54 54 __f54) (_55 55 __f55)
            (_56 56 __f56) (_57 57 __f57) (_58 58 __f58) (_59 59 __f59) (_60 60 __f60) (_61 61 __f61) (_62 62 __f62) (_63 63 __f63)
        ] $($t)*)
    };
}

/// A pattern with `ref` and `mut` removed, to test an output by reference
/// before moving it (the pattern is matched against `&output`).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_clean {
    // `@ [output] [stack of enclosing groups] tokens`
    (@ [$($o:tt)*] [] ) => { $($o)* };
    (@ [$($o:tt)*] $s:tt ref $($rest:tt)*) => { $crate::__select_clean!(@ [$($o)*] $s $($rest)*) };
    (@ [$($o:tt)*] $s:tt mut $($rest:tt)*) => { $crate::__select_clean!(@ [$($o)*] $s $($rest)*) };
    (@ [$($o:tt)*] [$($s:tt)*] ( $($g:tt)* ) $($rest:tt)*) => {
        $crate::__select_clean!(@ [] [([$($o)*] paren [$($rest)*]) $($s)*] $($g)*)
    };
    (@ [$($o:tt)*] [$($s:tt)*] [ $($g:tt)* ] $($rest:tt)*) => {
        $crate::__select_clean!(@ [] [([$($o)*] bracket [$($rest)*]) $($s)*] $($g)*)
    };
    (@ [$($o:tt)*] [$($s:tt)*] { $($g:tt)* } $($rest:tt)*) => {
        $crate::__select_clean!(@ [] [([$($o)*] brace [$($rest)*]) $($s)*] $($g)*)
    };
    (@ [$($o:tt)*] [([$($po:tt)*] paren [$($pr:tt)*]) $($s:tt)*]) => {
        $crate::__select_clean!(@ [$($po)* ( $($o)* )] [$($s)*] $($pr)*)
    };
    (@ [$($o:tt)*] [([$($po:tt)*] bracket [$($pr:tt)*]) $($s:tt)*]) => {
        $crate::__select_clean!(@ [$($po)* [ $($o)* ]] [$($s)*] $($pr)*)
    };
    (@ [$($o:tt)*] [([$($po:tt)*] brace [$($pr:tt)*]) $($s:tt)*]) => {
        $crate::__select_clean!(@ [$($po)* { $($o)* }] [$($s)*] $($pr)*)
    };
    (@ [$($o:tt)*] $s:tt $t:tt $($rest:tt)*) => { $crate::__select_clean!(@ [$($o)* $t] $s $($rest)*) };
}
