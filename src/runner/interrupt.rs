//! Interrupting a run: SIGINT/SIGTERM (Ctrl-C on Windows) stop it cleanly. The first signal
//! sets an [`Interrupt`]: no further case starts, the running ones are ended at once (their
//! verdict is `not-tested`), and the reports of the cases that ran are written, marked
//! interrupted. A second signal exits at once, without reports. Either way the exit code is
//! 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as a shell reports a process
//! ended by that signal.
use std::sync::Arc;
use tokio::sync::watch;

/// A run-wide "stop" flag that cases can await. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Interrupt {
    /// The number of the signal that interrupted the run, once one did.
    tx: Arc<watch::Sender<Option<i32>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt { tx: Arc::new(watch::channel(None).0) }
    }
}

/// Signal numbers (POSIX values, used for the exit code on every platform).
pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

impl Interrupt {
    /// Interrupts the run (the first call wins; later ones change nothing).
    pub fn trigger(&self, signal: i32) {
        self.tx.send_if_modified(|s| {
            let first = s.is_none();
            if first {
                *s = Some(signal);
            }
            first
        });
    }

    /// The signal that interrupted the run, if any.
    pub fn signal(&self) -> Option<i32> {
        *self.tx.borrow()
    }

    pub fn is_set(&self) -> bool {
        self.signal().is_some()
    }

    /// Resolves once the run is interrupted.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// The process exit code of an interrupted run.
    pub fn exit_code(&self) -> Option<u8> {
        self.signal().map(exit_code)
    }
}

/// 128 + the signal number.
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(255)
}

/// `SIGINT`, `SIGTERM`.
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Routes SIGINT and SIGTERM of this process to `interrupt` (first signal) and to an immediate
/// exit (second signal), for the rest of the process's life. The handlers are in place when
/// this returns.
pub fn install_signal_handlers(interrupt: &Interrupt) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut signals = {
        let _guard = rt.enter();
        Signals::new()?
    };
    let interrupt = interrupt.clone();
    std::thread::Builder::new().name("dmcts-signals".into()).spawn(move || {
        rt.block_on(async move {
            let first = signals.next().await;
            interrupt.trigger(first);
            // Not over a wait's progress line.
            super::progress::installed().suspend(|| {
                eprintln!(
                    "\n{} received: no further case starts; running cases end now and the reports of the cases \
                     that ran are written, marked interrupted (send it again to exit at once)",
                    name(first)
                )
            });
            let second = signals.next().await;
            eprintln!("{} received again: exiting at once, without reports", name(second));
            std::process::exit(i32::from(exit_code(second)));
        })
    })?;
    Ok(())
}

/// The signal streams, registered with the OS when created.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals { int: signal(SignalKind::interrupt())?, term: signal(SignalKind::terminate())? })
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    /// The next signal's number.
    #[cfg(unix)]
    async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => SIGINT,
            _ = self.term.recv() => SIGTERM,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> i32 {
        let _ = tokio::signal::ctrl_c().await;
        SIGINT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_wins_and_wakes_waiters() {
        let i = Interrupt::default();
        assert!(!i.is_set());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let waiter = {
            let i = i.clone();
            rt.spawn(async move { i.wait().await })
        };
        i.trigger(SIGTERM);
        i.trigger(SIGINT);
        rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await }).unwrap().unwrap();
        assert_eq!(i.signal(), Some(SIGTERM));
        assert_eq!(i.exit_code(), Some(143));
        assert_eq!(exit_code(SIGINT), 130);
    }
}
