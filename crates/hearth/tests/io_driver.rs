//! The I/O drivers (`hearth::runtime::IoDriver`): selection, fallback when
//! io_uring is refused, many sockets and operations dropped in flight, each
//! run on every driver this machine offers. The rest of the suite runs on
//! whatever `HEARTH_DRIVER` picks (CI runs it once per driver).
#![cfg(not(miri))] // Miri cannot open sockets or rings

mod drivers;

mod child;

use std::io;
use std::rc::Rc;
use std::time::Duration;

use hearth::net::{TcpListener, TcpStream, UdpSocket};
use hearth::runtime::IoDriver;
use hearth::time::timeout;
use hearth::Executor;

use drivers::{drivers, on};

#[test]
fn builder_and_executor_report_the_chosen_driver() {
    for driver in drivers() {
        let rt = hearth::Runtime::builder()
            .workers(2)
            .io_driver(driver)
            .build()
            .unwrap();
        assert_eq!(rt.io_driver(), driver);
        // Every worker's reactor, and block_on's, uses it.
        for worker in 0..2 {
            let h = rt
                .spawn_on(worker, move || async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await?;
                    let addr = listener.local_addr()?;
                    let (client, accepted) =
                        futures::join!(TcpStream::connect(addr), listener.accept());
                    let (client, (server, _)) = (client?, accepted?);
                    client.write_all(b"ping").await?;
                    let mut buf = [0; 4];
                    server.read_exact(&mut buf).await?;
                    io::Result::Ok(buf)
                })
                .unwrap();
            assert_eq!(&rt.block_on(h).unwrap().unwrap(), b"ping");
        }
        rt.block_on(async {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket
                .send_to(b"x", socket.local_addr().unwrap())
                .await
                .unwrap();
            let mut buf = [0; 1];
            socket.recv_from(&mut buf).await.unwrap();
        });
    }
    // `Auto` resolves to a concrete driver, at build time.
    let auto = hearth::Runtime::builder().workers(1).build().unwrap();
    assert!(matches!(
        auto.io_driver(),
        IoDriver::Epoll | IoDriver::IoUring
    ));
    // An executor from `new` resolves at its first socket.
    let executor = Executor::new();
    assert_eq!(executor.io_driver(), IoDriver::Auto);
    executor
        .run_until(async { TcpListener::bind("127.0.0.1:0").await.map(drop) })
        .unwrap();
    assert!(matches!(
        executor.io_driver(),
        IoDriver::Epoll | IoDriver::IoUring
    ));
}

#[test]
fn many_sockets_echo_on_each_driver() {
    const CONNECTIONS: usize = 300;
    for driver in drivers() {
        on(driver, async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = hearth::spawn_local(async move {
                for _ in 0..CONNECTIONS {
                    let (s, _) = listener.accept().await?;
                    hearth::spawn_local(async move {
                        let mut buf = [0; 64];
                        loop {
                            let n = s.read(&mut buf).await?;
                            if n == 0 {
                                return io::Result::Ok(());
                            }
                            s.write_all(&buf[..n]).await?;
                        }
                    });
                }
                io::Result::Ok(())
            });
            let mut clients = Vec::new();
            for i in 0..CONNECTIONS {
                clients.push(hearth::spawn_local(async move {
                    let s = TcpStream::connect(addr).await?;
                    let msg = format!("hello {i}");
                    for _ in 0..3 {
                        s.write_all(msg.as_bytes()).await?;
                        let mut buf = vec![0; msg.len()];
                        s.read_exact(&mut buf).await?;
                        assert_eq!(buf, msg.as_bytes());
                    }
                    io::Result::Ok(())
                }));
            }
            for c in clients {
                c.await.unwrap()?;
            }
            server.await.unwrap()
        });
    }
}

/// Reads that are waiting when their task is aborted or their socket is
/// dropped, and sockets that reuse the freed token (and descriptor number)
/// right away: a late event of the old registration must not reach the new
/// socket, and nothing may hang.
#[test]
fn operations_dropped_in_flight_leave_nothing_behind() {
    for driver in drivers() {
        on(driver, async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            for round in 0..50 {
                let (client, accepted) =
                    futures::join!(TcpStream::connect(addr), listener.accept());
                let (client, (server, _)) = (client?, accepted?);
                let server = Rc::new(server);
                // A read parked on the socket, then aborted.
                let reader = hearth::spawn_local({
                    let server = server.clone();
                    async move {
                        let mut buf = [0; 8];
                        server.read(&mut buf).await
                    }
                });
                hearth::yield_now().await;
                reader.abort();
                assert!(reader.await.unwrap_err().is_cancelled());
                // Data arrives after the abort: nobody is woken wrongly, and
                // a new read gets it.
                client.write_all(b"late").await?;
                let mut buf = [0; 4];
                server.read_exact(&mut buf).await?;
                assert_eq!(&buf, b"late");
                // A read in a timeout that expires: its future is dropped
                // while the socket stays registered.
                let mut buf = [0; 4];
                let expired = timeout(Duration::from_millis(1), server.read(&mut buf)).await;
                assert!(expired.is_err(), "round {round}: {expired:?}");
                // Both ends dropped with events pending (data in flight both
                // ways), then the tokens reused at once.
                client.write_all(b"unread").await?;
                server.write_all(b"unread").await?;
                drop(client);
                drop(server);
            }
            // A listener dropped with an accept in flight releases its port
            // at once: the same address binds again.
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let listener = Rc::new(listener);
            let accept = hearth::spawn_local({
                let listener = listener.clone();
                async move { listener.accept().await.map(drop) }
            });
            hearth::yield_now().await;
            accept.abort();
            let _ = accept.await;
            drop(listener);
            let again = TcpListener::bind(addr).await?;
            assert_eq!(again.local_addr()?, addr);
            Ok(())
        });
    }
}

#[test]
fn timers_and_remote_wakes_end_the_wait_on_each_driver() {
    for driver in drivers() {
        on(driver, async {
            // The reactor exists (a socket), so the executor waits in it.
            let _socket = UdpSocket::bind("127.0.0.1:0").await?;
            let start = std::time::Instant::now();
            hearth::time::sleep(Duration::from_millis(20)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            // A wake from another thread interrupts the wait.
            let (tx, rx) = futures::channel::oneshot::channel();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                tx.send(7).unwrap();
            });
            let got = timeout(Duration::from_secs(10), rx).await;
            assert_eq!(got.unwrap().unwrap(), 7);
            t.join().unwrap();
            Ok(())
        });
    }
}

#[test]
fn bad_env_value_is_an_error() {
    if child::is_child("bad_env_value_is_an_error") {
        let err = IoDriver::Auto.resolve().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("HEARTH_DRIVER"), "{err}");
        // Explicit choices ignore the variable.
        assert_eq!(IoDriver::Epoll.resolve().unwrap(), IoDriver::Epoll);
        // A socket of an `Auto` executor reports it instead of guessing.
        let err = hearth::block_on(async { TcpListener::bind("127.0.0.1:0").await.map(drop) })
            .unwrap_err();
        assert!(err.to_string().contains("HEARTH_DRIVER"), "{err}");
        assert!(hearth::Runtime::builder().workers(1).build().is_err());
        println!("child: done");
        return;
    }
    let mut child =
        child::spawn_self_with_env("bad_env_value_is_an_error", &[("HEARTH_DRIVER", "kqueue")]);
    child.expect_line("child: done");
    assert!(child.wait().success());
}

/// With `io_uring_setup` refused (a seccomp filter, as container runtimes
/// install), `Auto` falls back to epoll and everything works; asking for
/// io_uring explicitly is an error that says why.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn auto_falls_back_to_epoll_when_io_uring_is_refused() {
    const TEST: &str = "auto_falls_back_to_epoll_when_io_uring_is_refused";
    if child::is_child(TEST) {
        refuse_io_uring_setup();
        let err = IoDriver::IoUring.resolve().unwrap_err();
        assert!(err.to_string().contains("io_uring"), "{err}");
        assert_eq!(err.raw_os_error(), None); // wrapped with its reason
        assert!(err.to_string().contains("Operation not permitted"), "{err}");
        let err = hearth::Runtime::builder()
            .workers(1)
            .io_driver(IoDriver::IoUring)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("io_uring"), "{err}");
        assert_eq!(IoDriver::Auto.resolve().unwrap(), IoDriver::Epoll);
        let rt = hearth::Runtime::builder().workers(1).build().unwrap();
        assert_eq!(rt.io_driver(), IoDriver::Epoll);
        let echoed = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
            let (client, (server, _)) = (client?, accepted?);
            client.write_all(b"fallback").await?;
            let mut buf = [0; 8];
            server.read_exact(&mut buf).await?;
            io::Result::Ok(buf)
        });
        assert_eq!(&echoed.unwrap(), b"fallback");
        println!("child: done");
        return;
    }
    // The child picks `Auto` itself: no HEARTH_DRIVER from CI's environment.
    let mut child = child::spawn_self_with_env(TEST, &[("HEARTH_DRIVER", "auto")]);
    child.expect_line("child: done");
    assert!(child.wait().success());
}

/// Installs a seccomp filter on this thread (inherited by the threads it
/// starts) that fails `io_uring_setup` with `EPERM`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn refuse_io_uring_setup() {
    use libc::{sock_filter, sock_fprog};
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let stmt = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k: u32, jt: u8, jf: u8| sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let filter = [
        // seccomp_data.arch at offset 4: allow everything on another ABI.
        stmt(load, 4),
        jump(AUDIT_ARCH_X86_64, 0, 3),
        // seccomp_data.nr at offset 0.
        stmt(load, 0),
        jump(libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut sock_filter,
    };
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "PR_SET_NO_NEW_PRIVS: {}", io::Error::last_os_error());
    // SAFETY: `prog` points at `filter`, both live for the call; the kernel
    // copies the program.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const sock_fprog,
        )
    };
    assert_eq!(rc, 0, "PR_SET_SECCOMP: {}", io::Error::last_os_error());
}
