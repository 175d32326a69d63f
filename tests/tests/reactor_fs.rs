//! `uring::fs` against the files it leaves on disk: `File`'s reads and
//! writes at offsets (plain, vectored, all of a buffer), syncs, allocation,
//! truncation and status; `OpenOptions` against std's (the combinations
//! std refuses refused alike, with nothing created; `create_new`, `append`,
//! `truncate`, the mode, the access bits of custom flags ignored); the
//! directory calls and their errnos; positions past `i64::MAX` refused
//! before the ring is asked; symbolic and hard links; `close` that closes (the pipe's reader sees
//! its end) or leaves the descriptor to an op's clone; a file used from a
//! tokio task. What std reads back is compared with what was written.

use std::io::{self, Read as _};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use uring::fs::{self, File, OpenOptions};
use uring::reactor::Reactor;
use uring_tests::reactor::in_temp_dir;
use uring_tests::{pattern, watchdog};

/// A file created through the ring, written at offsets (a gap left as
/// zeroes), read back at offsets through the ring and by std, and read
/// past its end (0 bytes).
#[test]
fn writes_and_reads_at_offsets_match_what_std_reads() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("f");
        let file = File::create(&h, &path).await.unwrap();
        let (n, buf) = file.write_at(b"head".to_vec(), 0).await;
        assert_eq!(n.unwrap(), 4);
        assert_eq!(buf, b"head");
        let (n, _) = file.write_at("tail", 10).await;
        assert_eq!(n.unwrap(), 4);
        assert_eq!(std::fs::read(&path).unwrap(), b"head\0\0\0\0\0\0tail");
        // Opened for writing only: a read fails as read(2) does.
        let (n, _) = file.read_at(vec![0u8; 4], 0).await;
        assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EBADF));

        let file = File::open(&h, &path).await.unwrap();
        let (n, buf) = file.read_at(Vec::with_capacity(6), 8).await;
        assert_eq!(n.unwrap(), 6);
        assert_eq!(buf, b"\0\0tail");
        let (n, buf) = file.read_at(vec![7u8; 3], 1).await;
        assert_eq!(n.unwrap(), 3);
        assert_eq!(buf, b"ead");
        let (n, buf) = file.read_at(Vec::with_capacity(8), 14).await;
        assert_eq!(n.unwrap(), 0, "at the end");
        assert!(buf.is_empty());
        let (n, _) = file.read_at(Vec::with_capacity(8), 1 << 40).await;
        assert_eq!(n.unwrap(), 0, "past the end");
        // Opened for reading only: a write fails.
        let (n, _) = file.write_at(b"x".to_vec(), 0).await;
        assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EBADF));
    });
}

/// Vectored writes and reads at an offset, an empty buffer among the
/// others; `write_all_at` of 8 MiB at an offset.
#[test]
fn vectored_and_whole_writes() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("v");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&h, &path)
            .await
            .unwrap();
        let parts = vec![b"abc".to_vec(), Vec::new(), b"defg".to_vec()];
        let (n, parts) = file.writev_at(parts, 2).await;
        assert_eq!(n.unwrap(), 7);
        assert_eq!(parts[2], b"defg");
        assert_eq!(std::fs::read(&path).unwrap(), b"\0\0abcdefg");
        let bufs = vec![Vec::with_capacity(4), Vec::with_capacity(0), vec![0u8; 10]];
        let (n, bufs) = file.readv_at(bufs, 2).await;
        assert_eq!(n.unwrap(), 7);
        assert_eq!(bufs[0], b"abcd");
        assert!(bufs[1].is_empty());
        assert_eq!(&bufs[2][..3], b"efg");

        let big = pattern(8 << 20, 3);
        let (r, back) = file.write_all_at(big.clone(), 100).await;
        r.unwrap();
        assert_eq!(back.len(), big.len(), "the buffer comes back whole");
        let disk = std::fs::read(&path).unwrap();
        assert_eq!(disk.len(), 100 + big.len());
        assert!(disk[100..] == big[..]);
        // An empty buffer is written at once, without an op.
        let (r, _) = file.write_all_at(Vec::new(), 5).await;
        r.unwrap();
    });
}

/// Syncs succeed; `fallocate` grows the file (and `KEEP_SIZE` does not),
/// `set_len` truncates and extends it, `statx` reports each length and the
/// file's type.
#[test]
fn syncs_allocation_truncation_and_status() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("s");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&h, &path)
            .await
            .unwrap();
        let st = file.statx().await.unwrap();
        assert_eq!(st.stx_size, 0);
        assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFREG);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600 & !umask()
        );
        let (r, _) = file.write_all_at(pattern(5000, 1), 0).await;
        r.unwrap();
        file.sync_data().await.unwrap();
        file.sync_all().await.unwrap();
        file.fallocate(0, 8192, 0).await.unwrap();
        assert_eq!(file.statx().await.unwrap().stx_size, 8192);
        file.fallocate(8192, 4096, libc::FALLOC_FL_KEEP_SIZE)
            .await
            .unwrap();
        assert_eq!(file.statx().await.unwrap().stx_size, 8192);
        let e = file.fallocate(0, 0, 0).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "a length of 0");
        file.set_len(10).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), pattern(5000, 1)[..10]);
        file.set_len(20).await.unwrap();
        assert_eq!(file.statx().await.unwrap().stx_size, 20);
        assert_eq!(std::fs::read(&path).unwrap()[10..], [0u8; 10]);
    });
}

/// The process's umask (set back at once).
fn umask() -> u32 {
    // SAFETY: umask(2) takes and returns a mode; no memory.
    let old = unsafe { libc::umask(0o022) };
    // SAFETY: as above, setting the old mask back.
    unsafe { libc::umask(old) };
    old
}

/// The combinations std's `OpenOptions` refuses are refused alike, with
/// `InvalidInput`, and nothing is created.
#[test]
fn open_options_std_refuses_are_refused_before_the_ring() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("never");
        let cases: Vec<(&str, OpenOptions)> = vec![
            ("nothing", OpenOptions::new()),
            ("create without write", {
                let mut o = OpenOptions::new();
                o.read(true).create(true);
                o
            }),
            ("create_new without write", {
                let mut o = OpenOptions::new();
                o.read(true).create_new(true);
                o
            }),
            ("truncate without write", {
                let mut o = OpenOptions::new();
                o.read(true).truncate(true);
                o
            }),
            ("append and truncate", {
                let mut o = OpenOptions::new();
                o.append(true).truncate(true).create(true);
                o
            }),
        ];
        for (what, options) in cases {
            let e = options.open(&h, &path).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{what}");
            // std agrees.
            let mut std_options = std::fs::OpenOptions::new();
            std_options
                .read(options_field(&options, "read"))
                .write(options_field(&options, "write"))
                .append(options_field(&options, "append"))
                .truncate(options_field(&options, "truncate"))
                .create(options_field(&options, "create"))
                .create_new(options_field(&options, "create_new"));
            assert_eq!(
                std_options.open(&path).unwrap_err().kind(),
                io::ErrorKind::InvalidInput,
                "std on {what}"
            );
            assert!(!path.exists(), "{what} created the file");
        }
        let e = File::open(&h, Path::new("nul\0inside")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    });
}

/// One option of `options`, read from its `Debug` form.
fn options_field(options: &OpenOptions, name: &str) -> bool {
    let text = format!("{options:?}");
    let at = text.find(&format!("{name}: ")).unwrap() + name.len() + 2;
    text[at..].starts_with("true")
}

/// `create_new` over an existing file fails with `EEXIST`; `append`
/// writes at the end whatever the position; `truncate` empties; custom
/// flags' access bits are ignored (an open for reading with `O_RDWR` among
/// them still refuses writes); a missing file is `ENOENT`.
#[test]
fn open_options_as_the_kernel_applies_them() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("o");
        std::fs::write(&path, b"0123456789").unwrap();
        let e = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&h, &path)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);

        let file = OpenOptions::new()
            .append(true)
            .open(&h, &path)
            .await
            .unwrap();
        let (n, _) = file.write_at(b"AB".to_vec(), 0).await;
        assert_eq!(n.unwrap(), 2);
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456789AB");

        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_RDWR | libc::O_NOFOLLOW)
            .open(&h, &path)
            .await
            .unwrap();
        let (n, _) = file.write_at(b"x".to_vec(), 0).await;
        assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EBADF));

        let _ = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&h, &path)
            .await
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

        let e = File::open(&h, dir.join("missing")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    });
}

/// Positions past `i64::MAX` are refused with `EINVAL` before anything
/// is queued, the buffers given back untouched; `write_all_at` whose end
/// would pass `u64::MAX` is refused too.
#[test]
fn positions_past_i64_max_are_refused() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("p");
        std::fs::write(&path, b"keep").unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&h, &path)
            .await
            .unwrap();
        for pos in [i64::MAX as u64 + 1, u64::MAX] {
            let (n, buf) = file.read_at(vec![9u8; 4], pos).await;
            assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EINVAL));
            assert_eq!(buf, [9u8; 4]);
            let (n, buf) = file.write_at(b"over".to_vec(), pos).await;
            assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EINVAL));
            assert_eq!(buf, b"over");
            let (n, _) = file.readv_at(vec![vec![0u8; 2]], pos).await;
            assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EINVAL));
            let (n, _) = file.writev_at(vec![b"x".to_vec()], pos).await;
            assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EINVAL));
            let (r, buf) = file.write_all_at(b"over".to_vec(), pos).await;
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
            assert_eq!(buf, b"over");
            assert_eq!(h.in_flight(), 0);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    });
}

/// `create_dir`, `rename`, `remove_file` and `remove_dir`, with the
/// errnos of their usual failures.
#[test]
fn directory_calls_and_their_errors() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let sub = dir.join("sub");
        fs::create_dir(&h, &sub).await.unwrap();
        assert!(sub.is_dir());
        let e = fs::create_dir(&h, &sub).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let a = sub.join("a");
        std::fs::write(&a, b"A").unwrap();
        let b = sub.join("b");
        std::fs::write(&b, b"B").unwrap();
        fs::rename(&h, &a, &b).await.unwrap();
        assert!(!a.exists());
        assert_eq!(std::fs::read(&b).unwrap(), b"A", "the rename replaced b");
        let e = fs::rename(&h, &a, &b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = fs::remove_dir(&h, &sub).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTEMPTY));
        let e = fs::remove_file(&h, &sub).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EISDIR));
        fs::remove_file(&h, &b).await.unwrap();
        assert!(!b.exists());
        let e = fs::remove_file(&h, &b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        fs::remove_dir(&h, &sub).await.unwrap();
        assert!(!sub.exists());
        let e = fs::create_dir(&h, Path::new("a\0b")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    });
}

/// `symlink` stores its target as it is (a dangling one included) and
/// `hard_link` makes a second name of one inode (a symbolic link linked
/// itself, not followed); both fail with `EEXIST` over a name that
/// exists.
#[test]
fn symlinks_and_hard_links() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let file = dir.join("file");
        std::fs::write(&file, b"one inode").unwrap();
        let soft = dir.join("soft");
        fs::symlink(&h, "file", &soft).await.unwrap();
        assert_eq!(std::fs::read_link(&soft).unwrap(), Path::new("file"));
        let dangling = dir.join("dangling");
        fs::symlink(&h, "no/such/place", &dangling).await.unwrap();
        assert_eq!(
            std::fs::read_link(&dangling).unwrap(),
            Path::new("no/such/place")
        );
        let e = fs::symlink(&h, "file", &soft).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);

        let hard = dir.join("hard");
        fs::hard_link(&h, &file, &hard).await.unwrap();
        use std::os::unix::fs::MetadataExt as _;
        let (a, b) = (
            std::fs::metadata(&file).unwrap(),
            std::fs::metadata(&hard).unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
        let e = fs::hard_link(&h, &file, &hard).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        // The symbolic link itself gets the second name.
        let soft2 = dir.join("soft2");
        fs::hard_link(&h, &soft, &soft2).await.unwrap();
        assert!(
            std::fs::symlink_metadata(&soft2)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let e = fs::hard_link(&h, dir.join("missing"), dir.join("x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    });
}

/// `close` of the only owner closes the descriptor now (the pipe's reader
/// sees its end at once); with a clone of the descriptor held, it returns
/// `Ok` and the descriptor stays open until the clone goes.
#[test]
fn close_closes_now_or_when_the_last_clone_goes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (r, w) = uring_tests::pipe();
    let mut reader = std::fs::File::from(r);
    let file = File::from_fd(&h, w);
    file.close().unwrap();
    let mut got = Vec::new();
    assert_eq!(
        reader.read_to_end(&mut got).unwrap(),
        0,
        "the writer closed"
    );

    let (r, w) = uring_tests::pipe();
    let reader = std::fs::File::from(r);
    let file = File::from_fd(&h, w);
    let clone = file.shared_fd().clone();
    let raw = file.as_raw_fd();
    file.close().unwrap();
    assert_eq!(clone.as_raw_fd(), raw);
    // SAFETY: F_GETFL on a descriptor the clone keeps open; no memory.
    assert!(unsafe { libc::fcntl(clone.as_raw_fd(), libc::F_GETFL) } >= 0);
    drop(clone);
    let mut reader = reader;
    assert_eq!(reader.read_to_end(&mut got).unwrap(), 0);
}

/// A file written and read from a tokio task, on a reactor that tokio
/// drives.
#[test]
fn a_file_from_a_tokio_task() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let rt = uring_tests::net::runtime();
    let local = tokio::task::LocalSet::new();
    let got = local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let p = path.clone();
        let h2 = h.clone();
        let got = tokio::time::timeout(Duration::from_secs(10), async move {
            let file = File::create(&h2, &p).await?;
            let (n, _) = file.write_all_at(b"through tokio".to_vec(), 0).await;
            n?;
            let file = File::open(&h2, &p).await?;
            let (n, buf) = file.read_at(Vec::with_capacity(32), 8).await;
            n?;
            Ok::<_, io::Error>(buf)
        })
        .await
        .unwrap()
        .unwrap();
        h.shutdown();
        driver.await.unwrap().unwrap();
        got
    });
    assert_eq!(got, b"tokio");
    assert_eq!(std::fs::read(&path).unwrap(), b"through tokio");
}
