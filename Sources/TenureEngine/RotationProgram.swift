import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a `--command` credential's rotation program: the new secret on its stdin, never in argv or
/// the environment.
///
/// The program gets nothing else of this process:
/// - only descriptors 0–2 (the secret pipe, /dev/null, /dev/null). Every other descriptor is closed
///   in the child (`posix_spawn_file_actions_addclosefrom_np`), and the pipe is made close-on-exec:
///   a program must not inherit `tenure serve`'s listening socket, the database, the sync lock's
///   `flock` (a daemon it leaves behind would hold every later sync off), nor the secret pipe of
///   another rotation running at the same moment (whose program would then never see end-of-file);
/// - a minimal environment (`PATH`), the default signal dispositions and an empty signal mask;
/// - a process group of its own, so that stopping it stops what it started. (A Ctrl-C given to
///   `tenure` does not reach it either: a command that installs `RotationProgramInterrupts` stops
///   it on its way out, and the rotation, left pending, is settled by `reconcile` — for a program,
///   by a person.)
///
/// It has `timeLimit` to finish. One that does not is stopped (SIGTERM to its process group, then
/// SIGKILL to the group 5 s later) and its result is unknown: it may have changed the target
/// before it was stopped, so the caller keeps the new secret for a person to settle. One that exits
/// 0 without having read the whole secret failed: it cannot have set it.
enum RotationProgram {
    enum Result: Equatable, Sendable {
        /// It exited 0: the target has the new secret.
        case succeeded
        /// It exited with another status, or could not be started: the target kept its secret.
        case failed(String)
        /// Stopped (the time limit) or killed by a signal: the target may have either secret.
        case unknown(String)
    }

    /// Runs the program on a thread of its own: it may take its time, and waiting for it must not
    /// hold one of Swift's few cooperative threads.
    static func run(_ path: String, secret: String, timeLimit: Duration) async -> Result {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Self.runBlocking(path, secret: secret, timeLimit: timeLimit))
            }
            thread.name = "tenure-rotation-program"
            thread.start()
        }
    }

    /// How long a program stopped with SIGTERM has before SIGKILL.
    static let termGrace: Duration = .seconds(5)

    /// `run`, on the calling thread (which it blocks until the program has ended).
    static func runBlocking(_ path: String, secret: String, timeLimit: Duration) -> Result {
        guard let addCloseFrom = Self.addCloseFrom, let pipe2 = Self.pipe2 else {
            return .failed(
                "cannot run \(path): this C library cannot keep descriptors from a child "
                    + "(posix_spawn_file_actions_addclosefrom_np and pipe2 need glibc 2.34 or later)"
            )
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe2(&pipeEnds, O_CLOEXEC) == 0 else {
            return .failed("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 leaves the copy on 0 without close-on-exec; everything from 3 up is closed.
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard addCloseFrom(&actions, 3) == 0 else {
            close(pipeEnds[0])
            close(pipeEnds[1])
            return .failed("cannot run \(path): cannot arrange to close inherited descriptors")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)
        )
        let argv = [strdup(path), nil]
        defer { free(argv[0]) }
        let environment = [strdup("PATH=/usr/local/bin:/usr/bin:/bin"), nil]
        defer { free(environment[0]) }
        var pid: pid_t = 0
        // Started and registered in one turn of the registry's lock: an interruption either comes
        // first (and nothing is started) or finds the program to stop.
        let rc: Int32? = Self.running.withLock { running in
            guard !running.interrupted else { return nil }
            let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
            if rc == 0 { running.pids.insert(pid) }
            return rc
        }
        close(pipeEnds[0])
        guard let rc else {
            close(pipeEnds[1])
            return .failed("\(path) was not started: the command is being interrupted")
        }
        guard rc == 0 else {
            close(pipeEnds[1])
            return .failed("cannot run \(path): \(String(cString: strerror(rc)))")
        }
        var bytes = Array(secret.utf8)
        let delivered = Self.writeAll(bytes, to: pipeEnds[1])
        for index in bytes.indices { bytes[index] = 0 }
        close(pipeEnds[1])

        // It stays unreaped until it is settled here (waitid with WNOWAIT): its pid, and so its
        // process group's id, cannot be reused by another process while it is signalled.
        guard let ended = Self.waitUnreaped(pid, until: .now + timeLimit) else {
            let reason = String(cString: strerror(errno))  // before kill and waitpid set errno again
            kill(-pid, SIGKILL)
            Self.reap(pid)
            return .unknown("cannot wait for \(path): \(reason)")
        }
        guard ended else {
            // Stopped with everything it started: SIGTERM, and SIGKILL after the grace whether or
            // not it has exited by then (what it started may ignore SIGTERM).
            kill(-pid, SIGTERM)
            _ = Self.waitUnreaped(pid, until: .now + Self.termGrace)
            kill(-pid, SIGKILL)
            Self.reap(pid)
            return .unknown("\(path) did not finish within \(Self.describe(timeLimit)) and was stopped")
        }
        // Ended by itself: what it leaves in its group stays (a program may rightly start something
        // that outlives it, a service it restarts) — unless `stopAll` signalled it (the command
        // interrupted, the server stopping): then `reap` kills the group, as for a program that had
        // to be stopped.
        let (status, stopped) = Self.reap(pid)
        guard (status & 0x7f) == 0 else {
            if stopped { return .unknown("\(path) was stopped: tenure was interrupted or shutting down") }
            return .unknown("\(path) was killed by signal \(status & 0x7f)")
        }
        let code = (status >> 8) & 0xff
        guard code == 0 else { return .failed("\(path) exited with status \(code)") }
        // It cannot have set a secret it did not read.
        return delivered ? .succeeded : .failed("\(path) exited 0 without reading the new secret")
    }

    /// Writes `bytes` to `fd` (a pipe); false when the reader went away first. The SIGPIPE such a
    /// write raises would end the whole process: it is blocked on the calling thread meanwhile,
    /// and taken before the thread's signal mask is restored.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var sigpipe = sigset_t()
        sigemptyset(&sigpipe)
        sigaddset(&sigpipe, SIGPIPE)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &sigpipe, &previousMask)
        defer { pthread_sigmask(SIG_SETMASK, &previousMask, nil) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { break }
            written += result
        }
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        while sigtimedwait(&sigpipe, nil, &zero) == SIGPIPE {}
        return written == bytes.count
    }

    /// Whether `pid` has ended by `deadline`, leaving it unreaped; nil when it cannot be waited for.
    private static func waitUnreaped(_ pid: pid_t, until deadline: ContinuousClock.Instant) -> Bool? {
        var pause: UInt32 = 1_000  // microseconds, doubling to 50 ms
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1 {
                if errno == EINTR { continue }
                return nil
            }
            if info._sifields._sigchld.si_pid == pid { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
    }

    /// Reaps `pid` (waiting for it): its raw wait status, and whether `stopAll` signalled it. Taken
    /// out of the running programs first: `stopAll` signals a process group only while its leader
    /// is unreaped (its id not reusable). A group `stopAll` signalled has what is left of it killed
    /// first (as at the time limit): a leader gone on SIGTERM may leave a child that ignores it.
    @discardableResult
    private static func reap(_ pid: pid_t) -> (status: Int32, stopped: Bool) {
        let stopped = Self.running.withLock { running in
            guard running.pids.remove(pid) != nil, running.signalled.remove(pid) != nil else { return false }
            kill(-pid, SIGKILL)
            return true
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (status, stopped)
    }

    // MARK: - Stopping them with the process

    /// The programs started and not yet reaped, those of them `stopAll` signalled, and whether the
    /// process is being interrupted (no program starts).
    private struct Running: Sendable {
        var pids: Set<pid_t> = []
        var signalled: Set<pid_t> = []
        var interrupted = false
    }

    private static let running = Mutex(Running())

    /// Whether the process is being interrupted: no rotation program is started any more.
    static var isInterrupted: Bool { Self.running.withLock { $0.interrupted } }

    /// No program is started from now on.
    static func refuseNewPrograms() {
        Self.running.withLock { $0.interrupted = true }
    }

    /// For a server that is stopping: no program is started from now on; the running ones get
    /// `finishWithin` to end on their own (what one leaves in its group then stays, as always), then
    /// are stopped as by `stopAll`. Blocks the thread.
    static func stopForShutdown(finishWithin: Duration, grace: Duration) {
        Self.refuseNewPrograms()
        Self.waitUntilNoneRuns(until: .now + finishWithin)
        Self.stopAll(grace: grace)
    }

    /// Returns once no program runs, or at `deadline`.
    private static func waitUntilNoneRuns(until deadline: ContinuousClock.Instant) {
        while ContinuousClock.now < deadline, Self.running.withLock({ !$0.pids.isEmpty }) {
            usleep(20_000)
        }
    }

    /// SIGTERM to every running program's process group; SIGKILL to those whose leader has not
    /// ended `grace` later. Returns once none is left or the grace is over.
    static func stopAll(grace: Duration) {
        let started = Self.running.withLock { running in
            running.interrupted = true
            for pid in running.pids {
                running.signalled.insert(pid)
                kill(-pid, SIGTERM)
            }
            return !running.pids.isEmpty
        }
        guard started else { return }
        Self.waitUntilNoneRuns(until: .now + grace)
        Self.running.withLock { running in
            for pid in running.pids { kill(-pid, SIGKILL) }
        }
    }

    private static func describe(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32

    // glibc 2.34+ and 2.9+; not in Swift's Glibc module (declared under _GNU_SOURCE), so looked up.
    private static let addCloseFrom: AddCloseFrom? = Self.lookUp(
        "posix_spawn_file_actions_addclosefrom_np"
    )
    private static let pipe2: Pipe2? = Self.lookUp("pipe2")

    private static func lookUp<Function>(_ name: String) -> Function? {
        dlsym(nil, name).map { unsafeBitCast($0, to: Function.self) }
    }
}

/// Ctrl-C for a command that may run rotation programs (`tenure sync`, `tenure offboard`,
/// `tenure vault rotate` and `reconcile`). A program runs in a process group of its own, so the
/// terminal's SIGINT never reaches it: without this, the command would end and leave it running
/// with nobody to wait for it or stop it at its time limit.
public enum RotationProgramInterrupts {
    private static let sources = Mutex<[any DispatchSourceSignal]>([])

    /// From now on SIGINT, SIGTERM and SIGHUP stop every running rotation program (SIGTERM to its
    /// process group, SIGKILL to what is left of it once its leader has ended or 5 s later), start
    /// no new one, then end the process by that signal as before. The rotation it was part of is
    /// left pending: `tenure vault reconcile` (or the next sync's maintenance) settles it by trying
    /// both secrets. A signal this process was started ignoring (`nohup`, a script's background
    /// job) stays ignored.
    public static func install() {
        Self.sources.withLock { sources in
            guard sources.isEmpty else { return }
            for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
                let previous = signal(signalNumber, SIG_IGN)
                guard !isIgnore(previous) else { continue }
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler {
                    RotationProgram.stopAll(grace: RotationProgram.termGrace)
                    // Ended by the signal, as without this. Unblocked here first (a signal source
                    // may keep it blocked); should it still return, the shell's status for it.
                    signal(signalNumber, SIG_DFL)
                    var only = sigset_t()
                    sigemptyset(&only)
                    sigaddset(&only, signalNumber)
                    pthread_sigmask(SIG_UNBLOCK, &only, nil)
                    raise(signalNumber)
                    _exit(128 + signalNumber)
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

extension RotationProgramInterrupts {
    /// The sources for a second signal, once a server's shutdown began.
    private static let serverShutdown = Mutex<[any DispatchSourceSignal]?>(nil)

    /// `tenure serve`'s counterpart of `install`, called when its graceful shutdown begins (on
    /// SIGTERM or SIGINT, which service-lifecycle handles): no rotation program starts from now on
    /// (such a rotation is recorded as failed and retried by the vault's maintenance after the
    /// restart); one still running has `finishWithin` to end on its own, then is stopped as at
    /// Ctrl-C (SIGTERM to its group, SIGKILL 5 s later), on a thread of its own; and a second
    /// SIGTERM or SIGINT stops running programs at once. Without it shutdown waited for a hung
    /// program up to its time limit — longer than a service manager waits before SIGKILL, which
    /// may leave the program running with nobody to watch it. Later calls do nothing.
    public static func beginServerShutdown(finishWithin: Duration) {
        let first = Self.serverShutdown.withLock { sources in
            guard sources == nil else { return false }
            sources = [SIGTERM, SIGINT].map { signalNumber in
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                // Blocks up to the grace: on a thread of its own, not a pool's.
                source.setEventHandler { Self.onThread { RotationProgram.stopAll(grace: RotationProgram.termGrace) } }
                source.resume()
                return source
            }
            return true
        }
        guard first else { return }
        RotationProgram.refuseNewPrograms()
        Self.onThread { RotationProgram.stopForShutdown(finishWithin: finishWithin, grace: RotationProgram.termGrace) }
    }

    private static func onThread(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = "tenure-rotation-stop"
        thread.start()
    }
}

/// Whether a disposition `signal` returned is SIG_IGN.
private func isIgnore(_ handler: __sighandler_t?) -> Bool {
    let ignore: __sighandler_t? = SIG_IGN
    return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(ignore, to: Int.self)
}
