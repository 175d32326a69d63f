//! A registered personality lends its credentials to the ops that name it.
//!
//! The test changes the effective user id of the process, so it has a test
//! binary of its own.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use uring::Fd;
use uring_tests::push_lent;

use uring::Ring;
use uring::ops::{Nop, OpenAt};
use uring_tests::skip;

const NOBODY: libc::uid_t = 65534;

/// Restores the effective user id when dropped, even if an assert fails.
struct AsUser;

impl AsUser {
    fn become_nobody() -> AsUser {
        // SAFETY: changes only the effective uid; restored in Drop.
        assert_eq!(unsafe { libc::seteuid(NOBODY) }, 0, "seteuid");
        AsUser
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        // SAFETY: the real uid is root, so the effective uid may go back.
        unsafe { libc::seteuid(0) };
    }
}

#[test]
fn ops_run_with_the_personality_they_name() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("changing credentials needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path: &'static CString =
        Box::leak(Box::new(CString::new(secret.to_str().unwrap()).unwrap()));

    let mut ring = Ring::new(8).unwrap();
    let root = ring.register_personality().unwrap();
    assert!(root.id() > 0);
    {
        let _nobody = AsUser::become_nobody();
        push_lent!(ring, OpenAt::new(Fd::CWD, path.as_c_str()).user_data(1)).unwrap();
        push_lent!(
            ring,
            OpenAt::new(Fd::CWD, path.as_c_str())
                .personality(root)
                .user_data(2),
        )
        .unwrap();
        ring.submit_and_wait(2).unwrap();
    }
    let mut done: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    done.sort_unstable();
    assert_eq!(done[0], (1, -libc::EACCES), "as nobody the file is refused");
    assert_eq!(done[1].0, 2);
    assert!(
        done[1].1 >= 0,
        "with root's personality it opens: {}",
        done[1].1
    );
    // SAFETY: closing the descriptor the open returned, owned by nobody else.
    unsafe { libc::close(done[1].1) };

    ring.unregister_personality(root).unwrap();
    ring.push(Nop::new().personality(root).user_data(3))
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().next().unwrap().res(), -libc::EINVAL);
}
