//! A real screen capture, and the real window, on virtual X servers (Xvfb)
//! these tests start. Their own test binary, because they point DISPLAY at
//! those servers (one test at a time, see [`DISPLAY_LOCK`]).
//!
//! Xvfb is required, not optional: without it this test fails and says to
//! install it (`.ci/run` does), so a missing package cannot pass silently.
#![cfg(all(feature = "screenshot", target_os = "linux"))]

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::FromRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use triage_agent::capture::{self, image};
use triage_shared::limits::MAX_ATTACHED_SCREENSHOT_LEN;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
/// How long Xvfb may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// How long the window may take to appear.
const WINDOW_WITHIN: Duration = Duration::from_secs(60);

/// DISPLAY is process-wide: the tests here take turns.
static DISPLAY_LOCK: Mutex<()> = Mutex::new(());

/// A running Xvfb, killed when dropped (also when the test fails).
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts Xvfb on a free display it picks itself (`-displayfd`), and
    /// waits until it has written that display's number, i.e. is ready.
    fn start() -> Xvfb {
        let mut fds = [0; 2];
        // A plain pipe(2): the write end stays open across exec for Xvfb.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
        let [read_fd, write_fd] = fds;
        let spawned = Command::new("Xvfb")
            .args(["-displayfd", &write_fd.to_string()])
            .args(["-screen", "0", &format!("{WIDTH}x{HEIGHT}x24")])
            .args(["-nolisten", "tcp"])
            // Stay up when the last client leaves (each capture is one).
            .arg("-noreset")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        // Only Xvfb keeps the write end: its exit then ends our read.
        unsafe { libc::close(write_fd) };
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "Xvfb is not installed; install it (Debian/Ubuntu: `apt-get install xvfb`) \
                 to run the screen capture test (.ci/run installs it)"
            ),
            Err(e) => panic!("cannot start Xvfb: {e}"),
        };
        // Owned from here, so it is killed whatever happens next.
        let mut xvfb = Xvfb {
            child,
            display: String::new(),
        };
        let pipe = unsafe { File::from_raw_fd(read_fd) };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(pipe).read_line(&mut line);
            let _ = tx.send(line);
        });
        let number = rx
            .recv_timeout(READY_WITHIN)
            .unwrap_or_else(|_| panic!("Xvfb did not get ready within {READY_WITHIN:?}"));
        let number = number.trim();
        assert!(
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
            "Xvfb exited before it was ready (said {number:?})"
        );
        xvfb.display = format!(":{number}");
        xvfb
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Xvfb and points this process at it, holding the turn.
fn on_xvfb() -> (MutexGuard<'static, ()>, Xvfb) {
    let turn = DISPLAY_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let xvfb = Xvfb::start();
    std::env::set_var("DISPLAY", &xvfb.display);
    std::env::remove_var("WAYLAND_DISPLAY");
    std::env::remove_var("XDG_SESSION_TYPE");
    (turn, xvfb)
}

#[test]
fn a_capture_under_xvfb_is_a_png_of_the_whole_virtual_screen() {
    let (_turn, xvfb) = on_xvfb();
    assert!(capture::display_available());

    let png = capture::capture_png().expect("capture under Xvfb");
    let picture = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .expect("the capture is a PNG");
    assert_eq!((picture.width(), picture.height()), (WIDTH, HEIGHT));

    // What `help` and the window attach: the same screen, within the bound.
    let attached = capture::fit_png(
        &capture::capture_image().unwrap(),
        MAX_ATTACHED_SCREENSHOT_LEN,
    )
    .unwrap();
    assert!(attached.len() <= MAX_ATTACHED_SCREENSHOT_LEN);
    let picture = image::load_from_memory(&attached).unwrap();
    assert_eq!((picture.width(), picture.height()), (WIDTH, HEIGHT));

    drop(xvfb);
    // Once the server is gone, capturing fails with an error, not a crash.
    assert!(capture::capture_png().is_err());
}

/// The child process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(feature = "gui")]
#[test]
fn the_window_opens_under_xvfb_and_stays_up_without_a_daemon() {
    let (_turn, xvfb) = on_xvfb();
    let empty = capture::capture_image().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut window = Running(
        Command::new(env!("CARGO_BIN_EXE_triage-agent"))
            .args(["gui", "--socket"])
            .arg(dir.path().join("no-daemon.sock"))
            .env("DISPLAY", &xvfb.display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start triage-agent gui"),
    );
    // The window has appeared once the screen is no longer the empty one.
    let deadline = Instant::now() + WINDOW_WITHIN;
    loop {
        if let Some(status) = window.0.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut pipe) = window.0.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("`triage-agent gui` exited ({status}) instead of showing the window:\n{stderr}");
        }
        if capture::capture_image().unwrap() != empty {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no window within {WINDOW_WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Drawn, with no daemon to talk to, and still running.
    assert!(window.0.try_wait().unwrap().is_none());
}
