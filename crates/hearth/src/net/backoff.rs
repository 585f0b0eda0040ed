//! [`AcceptBackoff`]: an accept loop that rides out resource exhaustion.

use core::future::Future;
use std::io;
use std::time::Duration;

use crate::time::Instant;

/// Accepts connections, backing off while the process is out of resources.
///
/// `accept` fails in two ways that call for opposite answers:
///
/// - **Per-connection errors** concern one queued connection, which the
///   failed call has already taken off the queue: the peer reset it before
///   it was accepted (`ECONNABORTED`), a firewall refused it (`EPERM`), a
///   signal interrupted the call (`EINTR`), or Linux handed over a network
///   error pending on the new socket (`EPROTO`, `ENETDOWN`, `EHOSTUNREACH`
///   and the others `accept(2)` lists). The next connection is unaffected:
///   retry at once ([`is_connection_error`](Self::is_connection_error)).
/// - **Resource errors** (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`:
///   [`is_resource_error`](Self::is_resource_error)) leave the connection
///   queued and the listener readable, so a retry fails the same way, at
///   once: a loop that retries (and logs) every error spins a core and
///   floods its log until descriptors come back. The answer is to wait: a
///   connection that closes frees a descriptor.
///
/// [`accept`](Self::accept) wraps a listener's `accept` (any listener's:
/// it takes a closure). It retries a per-connection error at once; any
/// other error makes it wait: [`DEFAULT_MIN_DELAY`](Self::DEFAULT_MIN_DELAY)
/// (5 ms) after the first, twice as long after each next one, up to
/// [`DEFAULT_MAX_DELAY`](Self::DEFAULT_MAX_DELAY) (1 s); a success resets it.
/// (hyper-util and axum wait a fixed second.) Errors it does not know, say
/// `EINVAL` from a listener that can no longer listen, are waited on too:
/// retrying them at once could spin as well. The connections being served
/// keep running meanwhile (the wait is a timer, not a blocked thread), and
/// as soon as they free descriptors the loop accepts again.
///
/// **Reporting.** The library logs nothing: `accept` *returns* an error
/// when one should be reported, at most once per maximum delay (the first
/// error of a back-off is returned at once), and swallows the ones in
/// between. Log what it returns, and the loop logs at most one line a
/// second however long descriptors stay short. The next call waits out the
/// back-off before it tries again, so an accept loop can stay a plain
/// `loop { match backoff.accept(..).await { .. } }`.
///
/// # Examples
///
/// The accept loop of a server:
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// use hearth::net::{AcceptBackoff, TcpListener, TcpStream};
///
/// hearth::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     hearth::spawn_local(async move {
///         let mut backoff = AcceptBackoff::new();
///         loop {
///             match backoff.accept(|| listener.accept()).await {
///                 Ok((stream, _peer)) => drop(hearth::spawn_local(async move {
///                     let _ = stream.write_all(b"hi").await;
///                 })),
///                 Err(e) => eprintln!("accept: {e}; retrying in {:?}", backoff.delay()),
///             }
///         }
///     });
///     let client = TcpStream::connect(addr).await?;
///     let mut buf = [0; 2];
///     client.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
///
/// The schedule, with a stand-in for `accept` that runs out of descriptors
/// three times:
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use hearth::net::AcceptBackoff;
///
/// hearth::block_on(async {
///     let mut attempts = 0;
///     let mut accept = || {
///         attempts += 1;
///         let n = attempts;
///         async move {
///             match n {
///                 1 => Err(io::Error::from_raw_os_error(libc::ECONNABORTED)),
///                 2..=4 => Err(io::Error::from_raw_os_error(libc::EMFILE)),
///                 _ => Ok(n),
///             }
///         }
///     };
///     let mut backoff = AcceptBackoff::new();
///     // ECONNABORTED was retried at once; the first EMFILE is returned.
///     let err = backoff.accept(&mut accept).await.unwrap_err();
///     assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
///     assert_eq!(backoff.delay(), Duration::from_millis(5));
///     // Then it waits 5 ms, fails, 10 ms, fails (neither reported: within
///     // the second), 20 ms, and accepts.
///     let start = std::time::Instant::now();
///     assert_eq!(backoff.accept(&mut accept).await.unwrap(), 5);
///     assert!(start.elapsed() >= Duration::from_millis(35));
///     assert_eq!(backoff.delay(), Duration::ZERO);
/// });
/// ```
#[derive(Clone, Debug)]
pub struct AcceptBackoff {
    /// The first wait of a back-off.
    min: Duration,
    /// The longest wait, and the shortest time between two reported errors.
    max: Duration,
    /// The current wait: zero while accepts succeed.
    delay: Duration,
    /// When the next attempt may be made, while backing off. Kept until the
    /// wait is over, so a call dropped during it does not shorten it.
    resume_at: Option<Instant>,
    /// When `accept` last returned an error.
    last_report: Option<Instant>,
}

impl AcceptBackoff {
    /// The first wait after an error: 5 ms.
    pub const DEFAULT_MIN_DELAY: Duration = Duration::from_millis(5);
    /// The longest wait, and the shortest time between two reported
    /// errors: 1 s.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(1);

    /// A back-off from [`DEFAULT_MIN_DELAY`](Self::DEFAULT_MIN_DELAY) up to
    /// [`DEFAULT_MAX_DELAY`](Self::DEFAULT_MAX_DELAY).
    ///
    /// ```
    /// let backoff = hearth::net::AcceptBackoff::new();
    /// assert!(backoff.delay().is_zero());
    /// ```
    pub fn new() -> AcceptBackoff {
        AcceptBackoff::with_delays(Self::DEFAULT_MIN_DELAY, Self::DEFAULT_MAX_DELAY)
    }

    /// A back-off whose waits start at `min` and double up to `max`; at
    /// most one error is returned per `max`.
    ///
    /// `min` is raised to 1 ms (the timer's resolution; a zero wait would
    /// spin), and `max` to `min`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let backoff = hearth::net::AcceptBackoff::with_delays(
    ///     Duration::from_millis(1),
    ///     Duration::from_millis(100),
    /// );
    /// # drop(backoff);
    /// ```
    pub fn with_delays(min: Duration, max: Duration) -> AcceptBackoff {
        let min = min.max(Duration::from_millis(1));
        AcceptBackoff {
            min,
            max: max.max(min),
            delay: Duration::ZERO,
            resume_at: None,
            last_report: None,
        }
    }

    /// The current wait between two attempts: zero while accepts succeed.
    /// Read it after an error to log how long the loop now waits.
    ///
    /// ```
    /// assert!(hearth::net::AcceptBackoff::default().delay().is_zero());
    /// ```
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Runs `accept` (a listener's `accept`) until it yields a connection
    /// or an error worth reporting; see the [type's docs](Self).
    ///
    /// Per-connection errors are retried at once and never returned. Any
    /// other error starts or extends a back-off: the call returns it if no
    /// error was returned in the last maximum delay, and otherwise waits
    /// and tries again. A call made during a back-off first waits for it to
    /// end. Cancel-safe if `accept`'s future is (hearth's listeners' are):
    /// dropped while waiting, the next call waits for what is left.
    ///
    /// # Panics
    ///
    /// If it has to wait outside a hearth executor (as any timer does).
    ///
    /// See the [type's examples](Self).
    pub async fn accept<T, F, Fut>(&mut self, mut accept: F) -> io::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = io::Result<T>>,
    {
        loop {
            if let Some(at) = self.resume_at {
                crate::time::sleep_until(at).await;
                self.resume_at = None;
            }
            let err = match accept().await {
                Ok(conn) => {
                    self.delay = Duration::ZERO;
                    return Ok(conn);
                }
                Err(e) if Self::is_connection_error(&e) => continue,
                Err(e) => e,
            };
            let now = Instant::now();
            self.delay = if self.delay.is_zero() {
                self.min
            } else {
                (self.delay * 2).min(self.max)
            };
            self.resume_at = Some(now + self.delay);
            if self.last_report.is_none_or(|at| now >= at + self.max) {
                self.last_report = Some(now);
                return Err(err);
            }
        }
    }

    /// Whether `err`, returned by `accept`, concerns only the connection
    /// being accepted (retry at once): `ECONNABORTED`, `ECONNRESET`,
    /// `EPERM`, `EINTR`, and the network errors Linux passes on from the
    /// new socket (`EPROTO`, `ENOPROTOOPT`, `ENETDOWN`, `ENETUNREACH`,
    /// `EHOSTDOWN`, `EHOSTUNREACH`, `EOPNOTSUPP`, `ENONET`, `ETIMEDOUT`).
    ///
    /// ```
    /// use std::io::Error;
    /// use hearth::net::AcceptBackoff;
    /// assert!(AcceptBackoff::is_connection_error(&Error::from_raw_os_error(libc::ECONNABORTED)));
    /// assert!(!AcceptBackoff::is_connection_error(&Error::from_raw_os_error(libc::EMFILE)));
    /// ```
    pub fn is_connection_error(err: &io::Error) -> bool {
        let Some(code) = err.raw_os_error() else {
            return false;
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if code == libc::ENONET {
            return true;
        }
        matches!(
            code,
            libc::ECONNABORTED
                | libc::ECONNRESET
                | libc::EPERM
                | libc::EINTR
                | libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::ENETDOWN
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ETIMEDOUT
        )
    }

    /// Whether `err` says the process or the system is out of a resource
    /// that connections give back when they close: `EMFILE` (this
    /// process's descriptors), `ENFILE` (the system's), `ENOBUFS` and
    /// `ENOMEM` (kernel memory). [`accept`](Self::accept) backs off on
    /// these, as on every error that is not a
    /// [connection error](Self::is_connection_error).
    ///
    /// ```
    /// use std::io::Error;
    /// use hearth::net::AcceptBackoff;
    /// assert!(AcceptBackoff::is_resource_error(&Error::from_raw_os_error(libc::EMFILE)));
    /// assert!(AcceptBackoff::is_resource_error(&Error::from_raw_os_error(libc::ENOBUFS)));
    /// assert!(!AcceptBackoff::is_resource_error(&Error::from_raw_os_error(libc::ECONNABORTED)));
    /// ```
    pub fn is_resource_error(err: &io::Error) -> bool {
        matches!(
            err.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
}

impl Default for AcceptBackoff {
    /// [`AcceptBackoff::new`].
    fn default() -> AcceptBackoff {
        AcceptBackoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A stand-in `accept` that fails with `code` `fails` times, then
    /// succeeds; counts its calls.
    fn failing(
        code: i32,
        fails: u32,
        calls: &Cell<u32>,
    ) -> impl FnMut() -> core::future::Ready<io::Result<u32>> + '_ {
        move || {
            calls.set(calls.get() + 1);
            core::future::ready(if calls.get() <= fails {
                Err(io::Error::from_raw_os_error(code))
            } else {
                Ok(calls.get())
            })
        }
    }

    #[test]
    fn connection_errors_are_retried_at_once_and_never_returned() {
        let calls = Cell::new(0);
        let mut backoff = AcceptBackoff::new();
        let start = Instant::now();
        let got = crate::block_on(backoff.accept(failing(libc::ECONNABORTED, 1000, &calls)));
        assert_eq!(got.unwrap(), 1001);
        assert!(start.elapsed() < Duration::from_secs(1), "it waited");
        assert!(backoff.delay().is_zero());
    }

    #[test]
    fn resource_errors_back_off_doubling_to_the_cap_and_report_once_per_cap() {
        const MAX: Duration = Duration::from_millis(8);
        let calls = Cell::new(0);
        let mut backoff = AcceptBackoff::with_delays(Duration::from_millis(1), MAX);
        let mut accept = failing(libc::EMFILE, 12, &calls);
        let mut reported = Vec::new();
        let start = Instant::now();
        let conn = crate::block_on(async {
            loop {
                match backoff.accept(&mut accept).await {
                    Ok(conn) => return conn,
                    Err(e) => {
                        assert!(AcceptBackoff::is_resource_error(&e));
                        let at = backoff.last_report.unwrap();
                        reported.push((calls.get(), backoff.delay(), at));
                    }
                }
            }
        });
        let took = start.elapsed();
        assert_eq!(conn, 13);
        // Waits of 1, 2, 4, 8, 8, ... ms: 12 errors take at least 1+2+4+8*9 ms.
        assert!(took >= Duration::from_millis(79));
        // Each reported error came with the delay it started: doubling, capped.
        for &(n, delay, _) in &reported {
            assert_eq!(delay, Duration::from_millis(1 << (n - 1).min(3)));
        }
        // The first error at once, then at most one per `MAX`.
        assert_eq!(reported[0].0, 1);
        for pair in reported.windows(2) {
            assert!(
                pair[1].2 - pair[0].2 >= MAX,
                "reported twice within {MAX:?}"
            );
        }
        assert!(reported.len() as u128 <= took.as_millis() / MAX.as_millis() + 1);
        assert!(backoff.delay().is_zero(), "a success resets the back-off");
    }

    #[test]
    fn a_call_dropped_while_waiting_leaves_the_wait_to_the_next() {
        let calls = Cell::new(0);
        let mut backoff =
            AcceptBackoff::with_delays(Duration::from_millis(50), Duration::from_secs(1));
        let mut accept = failing(libc::ENFILE, 1, &calls);
        crate::block_on(async {
            assert!(backoff.accept(&mut accept).await.is_err());
            let start = Instant::now();
            // Cancelled during its wait: no attempt made.
            let cut = crate::time::timeout(Duration::from_millis(5), backoff.accept(&mut accept));
            assert!(cut.await.is_err());
            assert_eq!(calls.get(), 1);
            assert_eq!(backoff.accept(&mut accept).await.unwrap(), 2);
            assert!(start.elapsed() >= Duration::from_millis(50));
        });
    }

    #[test]
    fn delays_are_clamped() {
        let b = AcceptBackoff::with_delays(Duration::ZERO, Duration::ZERO);
        assert_eq!(
            (b.min, b.max),
            (Duration::from_millis(1), Duration::from_millis(1))
        );
    }
}
