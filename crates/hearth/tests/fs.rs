//! `hearth::fs`: round trips, errors (missing files, a parent that is a
//! file, permissions, bad paths), large files in chunks, seeks and the
//! read-ahead they must account for, write-behind errors, directory
//! listings across batch boundaries, and `File` through futures-io's traits;
//! under plain `block_on` (the process-wide pool) and on runtime workers.
#![cfg(not(miri))] // Miri has no file system

use std::future::{poll_fn, Future};
use std::io::{self, ErrorKind, SeekFrom};
use std::pin::Pin;
use std::task::Poll;

use futures::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use hearth::fs::{self, File, OpenOptions};

fn run<F: Future<Output = io::Result<()>>>(f: F) {
    hearth::block_on(f).unwrap();
}

/// Bytes that differ from their neighbours, so misplaced chunks show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

#[test]
fn write_read_round_trips() {
    run(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("round");
        fs::write(&path, "hello").await?;
        assert_eq!(fs::read(&path).await?, b"hello");
        assert_eq!(fs::read_to_string(&path).await?, "hello");
        assert_eq!(fs::metadata(&path).await?.len(), 5);

        let mut file = File::create(&path).await?;
        file.write_all(b"from a File").await?;
        file.sync_all().await?;
        drop(file);
        assert_eq!(fs::read_to_string(&path).await?, "from a File");

        let mut file = File::open(&path).await?;
        let mut text = String::new();
        file.read_to_string(&mut text).await?; // futures-io
        assert_eq!(text, "from a File");

        fs::write(&path, []).await?;
        assert!(fs::read(&path).await?.is_empty());
        Ok(())
    });
}

#[test]
fn missing_files_are_not_found() {
    run(async {
        let dir = tempfile::tempdir()?;
        let missing = dir.path().join("missing");
        let kinds = [
            fs::read(&missing).await.map(drop),
            fs::read_to_string(&missing).await.map(drop),
            File::open(&missing).await.map(drop),
            fs::metadata(&missing).await.map(drop),
            fs::remove_file(&missing).await,
            fs::remove_dir(&missing).await,
            fs::read_dir(&missing).await.map(drop),
            fs::canonicalize(&missing).await.map(drop),
            fs::copy(&missing, dir.path().join("to")).await.map(drop),
            fs::rename(&missing, dir.path().join("to")).await,
            fs::write(missing.join("child"), "x").await,
        ]
        .map(|r| r.unwrap_err().kind());
        assert!(kinds.iter().all(|k| *k == ErrorKind::NotFound), "{kinds:?}");
        assert!(!fs::try_exists(&missing).await?);
        Ok(())
    });
}

#[test]
fn a_parent_that_is_a_file_fails_even_for_root() {
    run(async {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("plain");
        fs::write(&file, "not a directory").await?;
        let below = file.join("child");
        let err = fs::write(&below, "x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory, "{err}");
        let err = fs::create_dir_all(below.join("deeper")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory, "{err}");
        let err = File::create(&below).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory, "{err}");
        // try_exists cannot tell: an error, not `false`.
        assert!(fs::try_exists(&below).await.is_err());
        let err = fs::read_dir(&file).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotADirectory, "{err}");
        Ok(())
    });
}

#[test]
fn permission_denied_unless_root() {
    run(async {
        let dir = tempfile::tempdir()?;
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).await?;
        let writable = fs::metadata(&locked).await?.permissions();
        let mut read_only = writable.clone();
        read_only.set_readonly(true);
        fs::set_permissions(&locked, read_only).await?;
        let result = fs::write(locked.join("f"), "x").await;
        fs::set_permissions(&locked, writable).await?; // so the tempdir can go
        match result {
            Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}"),
            // root (CAP_DAC_OVERRIDE) writes anyway; the test above covers
            // an error every user gets.
            Ok(()) => eprintln!("skipped: running as root, a read-only directory is writable"),
        }
        Ok(())
    });
}

#[test]
fn bad_paths_are_errors_not_panics() {
    run(async {
        let err = fs::read("nul\0byte").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = File::create("").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = OpenOptions::new().open("/").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput); // no access mode
        Ok(())
    });
}

#[test]
fn large_files_in_chunks() {
    run(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("large");
        // More than one 2 MiB write per call, written in uneven chunks.
        let data = pattern(5 * 1024 * 1024 + 123);
        let mut file = File::create(&path).await?;
        for chunk in data.chunks(300_007) {
            file.write_all(chunk).await?;
        }
        let n = file.write(&data[..0]).await?;
        assert_eq!(n, 0);
        file.write_all(&data[..3 * 1024 * 1024]).await?; // one call, two writes
        file.flush().await?;
        assert_eq!(
            file.metadata().await?.len() as usize,
            data.len() + 3 * 1024 * 1024
        );
        drop(file);

        // Read back in odd chunks, through the inherent and futures-io reads.
        let mut file = File::open(&path).await?;
        let mut back = Vec::new();
        let mut buf = vec![0; 7919];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert_eq!(&back[..data.len()], &data[..]);
        assert_eq!(&back[data.len()..], &data[..3 * 1024 * 1024]);

        let mut file = File::open(&path).await?;
        let mut all = Vec::new();
        AsyncReadExt::read_to_end(&mut file, &mut all).await?;
        assert_eq!(all, back);
        assert_eq!(fs::read(&path).await?, back);
        Ok(())
    });
}

#[test]
fn seeks_and_positions() {
    run(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("seek");
        let data = pattern(10_000);
        fs::write(&path, &data).await?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await?;

        assert_eq!(file.seek(SeekFrom::Start(100)).await?, 100);
        let mut buf = [0; 10];
        file.read_exact(&mut buf).await?;
        assert_eq!(buf, data[100..110]);
        assert_eq!(file.seek(SeekFrom::Current(0)).await?, 110);
        assert_eq!(file.seek(SeekFrom::Current(-20)).await?, 90);
        assert_eq!(file.seek(SeekFrom::End(-1)).await?, 9_999);
        file.read_exact(&mut buf[..1]).await?;
        assert_eq!(buf[0], data[9_999]);
        assert_eq!(file.read(&mut buf).await?, 0); // end of file

        // Writes land at the position, then reads go on after them.
        AsyncSeekExt::seek(&mut file, SeekFrom::Start(5)).await?;
        file.write_all(b"XYZ").await?;
        file.read_exact(&mut buf[..2]).await?;
        assert_eq!(buf[..2], data[8..10]);
        let err = file.seek(SeekFrom::Current(-100)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        drop(file);

        let mut expected = data.clone();
        expected[5..8].copy_from_slice(b"XYZ");
        assert_eq!(fs::read(&path).await?, expected);
        Ok(())
    });
}

#[test]
fn bytes_read_ahead_do_not_move_the_position() {
    // One pool thread, held until the first poll of the read has returned,
    // so that poll surely finds the read still in flight.
    let rt = hearth::Runtime::builder()
        .workers(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ahead");
        let data = pattern(1000);
        fs::write(&path, &data).await?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await?;

        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = hearth::runtime::spawn_blocking(move || gate_rx.recv().is_err());
        // A read for 100 bytes starts; it completes under a 10-byte buffer:
        // 90 bytes are read ahead.
        let mut big = [0; 100];
        let mut small = [0; 10];
        let mut gate_tx = Some(gate_tx);
        let n = poll_fn(|cx| {
            let first = gate_tx.is_some();
            let dst: &mut [u8] = if first { &mut big } else { &mut small };
            let poll = futures::AsyncRead::poll_read(Pin::new(&mut file), cx, dst);
            if first {
                assert!(poll.is_pending(), "the read ran without the pool");
                drop(gate_tx.take()); // lets the pool go on to the read
            }
            poll
        })
        .await?;
        assert!(gate.await.unwrap());
        assert_eq!(n, 10);
        assert_eq!(small, data[..10]);

        // The position is 10, not 100, for seeks, writes and reads.
        assert_eq!(file.seek(SeekFrom::Current(0)).await?, 10);
        let mut next = [0; 5];
        file.read_exact(&mut next).await?;
        assert_eq!(next, data[10..15]);
        file.write_all(b"@@").await?; // at 15
        file.flush().await?;
        let mut std = file.into_std().await?;
        assert_eq!(io::Seek::stream_position(&mut std)?, 17);

        let mut expected = data.clone();
        expected[15..17].copy_from_slice(b"@@");
        assert_eq!(fs::read(&path).await?, expected);
        io::Result::Ok(())
    })
    .unwrap();
    rt.shutdown();
}

#[test]
fn a_failed_background_write_is_reported_by_the_next_flush() {
    run(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ro");
        fs::write(&path, "x").await?;
        let mut file = File::open(&path).await?; // read-only
                                                 // Write-behind: the write is accepted, it fails on the pool.
        assert_eq!(file.write(b"data").await?, 4);
        let err = file.flush().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(9), "EBADF, got {err}");
        file.flush().await?; // reported once
                             // The next write reports the failure of the one before.
        assert_eq!(file.write(b"more").await?, 4);
        let mut buf = [0; 1];
        file.read_exact(&mut buf).await?; // a read in between keeps the error
        assert!(file.write(b"again").await.is_err());
        Ok(())
    });
}

#[test]
fn truncate_extend_sync_and_clone() {
    run(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("len");
        let mut file = File::create(&path).await?;
        file.write_all(b"0123456789").await?;
        file.set_len(4).await?;
        assert_eq!(file.metadata().await?.len(), 4);
        file.set_len(8).await?;
        file.sync_data().await?;
        assert_eq!(fs::read(&path).await?, b"0123\0\0\0\0");

        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await?;
        let mut two = [0; 2];
        file.read_exact(&mut two).await?;
        let mut clone = file.try_clone().await?;
        // They share the position.
        clone.write_all(b"ab").await?;
        clone.flush().await?;
        assert_eq!(file.seek(SeekFrom::Current(0)).await?, 4);
        assert_eq!(fs::read(&path).await?, b"01ab\0\0\0\0");
        Ok(())
    });
}

#[test]
fn directories() {
    run(async {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("tree");
        fs::create_dir_all(root.join("a/b/c")).await?;
        fs::create_dir(root.join("empty")).await?;
        let err = fs::create_dir(root.join("empty")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        // More entries than one batch of the listing (32).
        let mut expected = vec!["a".to_string(), "empty".to_string()];
        for i in 0..100 {
            let name = format!("file{i:03}");
            fs::write(root.join(&name), &name).await?;
            expected.push(name);
        }
        let mut listing = fs::read_dir(&root).await?;
        let mut names = Vec::new();
        while let Some(entry) = listing.next_entry().await? {
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), root.join(&name));
            let is_dir = entry.file_type().await?.is_dir();
            assert_eq!(is_dir, name == "a" || name == "empty", "{name}");
            if !is_dir {
                assert_eq!(entry.metadata().await?.len() as usize, name.len());
            }
            names.push(name);
        }
        assert!(listing.next_entry().await?.is_none()); // stays at the end
        names.sort();
        expected.sort();
        assert_eq!(names, expected);

        let err = fs::remove_dir(&root).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DirectoryNotEmpty);
        fs::remove_dir(root.join("empty")).await?;
        fs::rename(root.join("a"), root.join("renamed")).await?;
        assert!(fs::metadata(root.join("renamed/b/c")).await?.is_dir());
        assert_eq!(
            fs::canonicalize(root.join("renamed/b/../b/./c")).await?,
            std::fs::canonicalize(&root)?.join("renamed/b/c")
        );
        assert_eq!(fs::copy(root.join("file007"), root.join("copy")).await?, 7);
        assert_eq!(fs::read_to_string(root.join("copy")).await?, "file007");
        fs::remove_dir_all(&root).await?;
        assert!(!fs::try_exists(&root).await?);
        Ok(())
    });
}

#[test]
fn links() {
    run(async {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("target");
        fs::write(&target, "linked").await?;
        fs::symlink(&target, dir.path().join("sym")).await?;
        fs::hard_link(&target, dir.path().join("hard")).await?;
        assert_eq!(fs::read_link(dir.path().join("sym")).await?, target);
        let meta = fs::symlink_metadata(dir.path().join("sym")).await?;
        assert!(meta.file_type().is_symlink());
        assert_eq!(fs::read_to_string(dir.path().join("hard")).await?, "linked");
        fs::remove_file(dir.path().join("sym")).await?;
        assert!(fs::try_exists(&target).await?);
        Ok(())
    });
}

#[test]
fn files_on_runtime_workers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let handles = rt
        .spawn_on_all({
            let root = dir.path().to_owned();
            move |worker| {
                let path = root.join(format!("worker{worker}"));
                async move {
                    let data = pattern(100_000 + worker);
                    let mut file = File::create(&path).await?;
                    file.write_all(&data).await?;
                    file.close().await?; // futures-io: flushes
                    io::Result::Ok(fs::read(&path).await? == data)
                }
            }
        })
        .unwrap();
    for h in handles {
        assert!(rt.block_on(h).unwrap().unwrap());
    }
    // And from the runtime's own block_on.
    let read = rt.block_on(fs::read(dir.path().join("worker0"))).unwrap();
    assert_eq!(read, pattern(100_000));
    rt.shutdown();
}

#[test]
fn a_file_moves_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moved");
    let file = hearth::block_on(async {
        let mut file = File::create(&path).await?;
        file.write_all(b"first thread, ").await?; // still in flight, maybe
        io::Result::Ok(file)
    })
    .unwrap();
    std::thread::spawn(move || {
        hearth::block_on(async move {
            let mut file = file;
            file.write_all(b"second thread").await?;
            file.flush().await
        })
    })
    .join()
    .unwrap()
    .unwrap();
    let contents = std::fs::read_to_string(&path).unwrap();
    assert_eq!(contents, "first thread, second thread");
}

#[test]
fn an_empty_read_returns_at_once() {
    run(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        fs::write(&path, "abc").await?;
        let mut file = File::open(&path).await?;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let poll = futures::AsyncRead::poll_read(Pin::new(&mut file), &mut cx, &mut []);
        assert!(matches!(poll, Poll::Ready(Ok(0))));
        Ok(())
    });
}

#[test]
fn works_under_another_executor() {
    // No hearth executor and no runtime: the process-wide pool, and the
    // result wakes futures' executor through its `Waker`.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elsewhere");
    futures::executor::block_on(async {
        fs::write(&path, "from futures' executor").await?;
        let mut file = File::open(&path).await?;
        let mut text = String::new();
        file.read_to_string(&mut text).await?;
        assert_eq!(text, "from futures' executor");
        io::Result::Ok(())
    })
    .unwrap();
}

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_traits() {
    use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
    run(async {
        let dir = tempfile::tempdir()?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(dir.path().join("tokio"))
            .await?;
        let n =
            poll_fn(|cx| AsyncWrite::poll_write(Pin::new(&mut file), cx, b"hello tokio")).await?;
        assert_eq!(n, 11);
        // The write is in flight: tokio's seek protocol wants it completed.
        let busy = AsyncSeek::start_seek(Pin::new(&mut file), SeekFrom::Start(0));
        assert!(busy.is_err());
        assert_eq!(
            poll_fn(|cx| AsyncSeek::poll_complete(Pin::new(&mut file), cx)).await?,
            0 // no seek was waited for
        );
        AsyncSeek::start_seek(Pin::new(&mut file), SeekFrom::Start(6))?;
        let pos = poll_fn(|cx| AsyncSeek::poll_complete(Pin::new(&mut file), cx)).await?;
        assert_eq!(pos, 6);

        let mut bytes = [0; 16];
        let mut buf = ReadBuf::new(&mut bytes);
        poll_fn(|cx| AsyncRead::poll_read(Pin::new(&mut file), cx, &mut buf)).await?;
        assert_eq!(buf.filled(), b"tokio");
        poll_fn(|cx| AsyncWrite::poll_shutdown(Pin::new(&mut file), cx)).await?;
        Ok(())
    });
}
