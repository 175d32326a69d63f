//! Reads that fill a whole buffer and the calls a port from std or
//! tokio-uring reaches for: `IoBufMut::slice_mut` (its clamps, a read into
//! it keeping the bytes before it), `File::read_exact_at` across short
//! reads and at the end of a file (`UnexpectedEof`, the bytes read kept),
//! `fs::create_dir_all` against std's on twin trees, and `fs::statx` /
//! `fs::symlink_statx` against std's `metadata` / `symlink_metadata`.

use std::io;
use std::ops::Bound;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use uring::fs::{self, File};
use uring::reactor::{IoBuf, IoBufMut};
use uring_tests::reactor::in_temp_dir;
use uring_tests::{pattern, watchdog};

/// `slice_mut` clamps its start to the buffer's initialised bytes (no
/// unwritten byte before the range) and its end to `bytes_total`; its
/// initialised bytes are those of the buffer inside the range.
#[test]
fn slice_mut_clamps_to_the_initialised_start_and_the_total_end() {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(b"abc");
    let cap = v.capacity();
    let s = v.slice_mut(5..);
    assert_eq!((s.begin(), s.end()), (3, cap), "the start is clamped to 3");
    assert_eq!(s.bytes_total(), cap - 3);
    assert_eq!(s.bytes_init(), 0);
    let v = s.into_inner();
    let s = v.slice_mut(1..=2);
    assert_eq!((s.begin(), s.end()), (1, 3));
    assert_eq!(s.as_bytes(), b"bc");
    let v = s.into_inner();
    let s = v.slice_mut(..usize::MAX);
    assert_eq!((s.begin(), s.end()), (0, cap));
    assert_eq!(s.as_bytes(), b"abc");
    let s = s
        .into_inner()
        .slice_mut((Bound::Included(2), Bound::Excluded(1)));
    assert_eq!((s.begin(), s.end()), (2, 2), "an empty range");
    assert_eq!(s.bytes_total(), 0);
    let b: Box<[u8]> = vec![7u8; 8].into_boxed_slice();
    let s = b.slice_mut(3..20);
    assert_eq!((s.begin(), s.end(), s.bytes_init()), (3, 8, 5));
}

/// A read into a `slice_mut` of a vector fills the range from its start:
/// the bytes before it stay, the vector's length reaches the end of what
/// was read, and a read that fills less than the bytes already there
/// leaves the length alone.
#[test]
fn a_read_into_a_slice_mut_keeps_the_bytes_before_it() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&h, &path).await.unwrap();
        let mut v = Vec::with_capacity(8);
        v.extend_from_slice(b"ab");
        let (n, s) = file.read_at(v.slice_mut(2..6), 3).await;
        assert_eq!(n.unwrap(), 4);
        let v = s.into_inner();
        assert_eq!(v, b"ab3456");
        let (n, s) = file.read_at(v.slice_mut(1..2), 9).await;
        assert_eq!(n.unwrap(), 1);
        assert_eq!(s.into_inner(), b"a93456", "the length stays at 6");
    });
}

/// `read_exact_at` fills a vector's whole capacity from a pipe that gets
/// its bytes in three parts, written by another task of the reactor with
/// sleeps between: the first reads come back short, the rest is read
/// again, and every byte lands once, in order.
#[test]
fn read_exact_at_reads_again_past_short_reads() {
    let _watch = watchdog();
    in_temp_dir(|h, _| async move {
        let (r, w) = uring_tests::pipe();
        let reader = File::from_fd(&h, r);
        let writer = File::from_fd(&h, w);
        let bytes = pattern(3000, 5);
        let parts = bytes.clone();
        let sleeper = h.clone();
        let feeder = h.spawn(async move {
            for part in parts.chunks(1000) {
                sleeper.sleep(Duration::from_millis(10)).await.unwrap();
                let (res, _) = writer.write_all_at(part.to_vec(), 0).await;
                res.unwrap();
            }
        });
        let (res, got) = reader.read_exact_at(Vec::with_capacity(3000), 0).await;
        res.unwrap();
        assert_eq!(got.len(), 3000);
        assert!(got == bytes, "the bytes differ");
        feeder.await.unwrap();
    });
}

/// At the end of a file before the buffer is full, `read_exact_at` fails
/// with `UnexpectedEof` and the vector holds the bytes that were there;
/// a buffer of no room reads nothing and succeeds; a full `Box<[u8]>` is
/// overwritten from its start, at a position.
#[test]
fn read_exact_at_past_the_end_is_unexpected_eof_with_the_bytes_kept() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("f");
        let bytes = pattern(100, 9);
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&h, &path).await.unwrap();
        let (res, got) = file.read_exact_at(Vec::with_capacity(150), 0).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(got, bytes, "the 100 bytes read are kept");
        let (res, got) = file.read_exact_at(Vec::new(), 1 << 40).await;
        res.unwrap();
        assert!(got.is_empty());
        let boxed = vec![0xffu8; 40].into_boxed_slice();
        let (res, got) = file.read_exact_at(boxed, 60).await;
        res.unwrap();
        assert_eq!(&got[..], &bytes[60..]);
        let (res, _) = file.read_exact_at(vec![0u8; 4], 1 << 63).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    });
}

/// `create_dir_all` makes every missing directory of a path, as std's
/// does on a twin tree: the same directories (same modes), none for a
/// path that exists, `AlreadyExists` for a file in the way (nothing made
/// under it), and `Ok` for an empty path.
#[test]
fn create_dir_all_makes_what_std_makes() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let ours = dir.join("ours");
        let theirs = dir.join("theirs");
        for rel in ["a/b/c", "a/b/c", "a/x", "a/b/c/d/e/", "f/./g/../h"] {
            let got = fs::create_dir_all(&h, ours.join(rel)).await;
            let want = std::fs::create_dir_all(theirs.join(rel));
            assert_eq!(got.is_ok(), want.is_ok(), "{rel}: {got:?} against {want:?}");
        }
        assert_eq!(tree(&ours), tree(&theirs));
        assert_eq!(tree(&ours).len(), 9, "{:?}", tree(&ours));
        std::fs::write(ours.join("file"), b"x").unwrap();
        let err = fs::create_dir_all(&h, ours.join("file")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let err = fs::create_dir_all(&h, ours.join("file/under"))
            .await
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
        fs::create_dir_all(&h, "").await.unwrap();
        // Through a symbolic link to a directory: it exists.
        std::os::unix::fs::symlink(ours.join("a"), ours.join("link")).unwrap();
        fs::create_dir_all(&h, ours.join("link")).await.unwrap();
        fs::create_dir_all(&h, ours.join("link/new")).await.unwrap();
        assert!(ours.join("a/new").is_dir());
    });
}

/// The directories under `root`, relative, with their modes, sorted.
fn tree(root: &std::path::Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                let rel = entry.path().strip_prefix(root).unwrap().to_owned();
                out.push((rel.to_string_lossy().into_owned(), meta.mode()));
                todo.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// `fs::statx` follows a symbolic link and `fs::symlink_statx` does not,
/// as std's `metadata` and `symlink_metadata`: size, mode, inode and
/// links compared field by field; a missing path is `NotFound`, one with a
/// NUL byte `InvalidInput`.
#[test]
fn statx_and_symlink_statx_match_std_s_metadata() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let file = dir.join("file");
        std::fs::write(&file, pattern(777, 1)).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        for (path, follow) in [(&file, true), (&link, true), (&link, false), (&dir, true)] {
            let (got, want) = if follow {
                (
                    fs::statx(&h, path).await.unwrap(),
                    std::fs::metadata(path).unwrap(),
                )
            } else {
                (
                    fs::symlink_statx(&h, path).await.unwrap(),
                    std::fs::symlink_metadata(path).unwrap(),
                )
            };
            let what = format!("{} follow {follow}", path.display());
            assert_eq!(got.stx_size, want.size(), "{what}");
            assert_eq!(u32::from(got.stx_mode), want.mode(), "{what}");
            assert_eq!(got.stx_ino, want.ino(), "{what}");
            assert_eq!(u64::from(got.stx_nlink), want.nlink(), "{what}");
        }
        let err = fs::statx(&h, dir.join("missing")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = fs::symlink_statx(&h, "a\0b").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
}
