import Glibc

/// Whole-file reads and atomic replacement, for durable state (the quota journal). Not for the
/// request path: these are blocking calls, made by the coordinator and the supervisor.
public enum Files {
    /// The file's bytes; nil when it does not exist; an error when it cannot be read, is
    /// larger than `bytesMax`, or is not a regular file. Never blocks on a FIFO or a device:
    /// it is opened without blocking and refused unless regular.
    public static func read(_ path: String, bytesMax: Int) throws(SystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError("open \(path)", errno: errno)
        }
        defer { Glibc.close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SystemError("fstat \(path)", errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw SystemError("\(path) is not a regular file (a FIFO, a device or a folder)", errno: 0)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(path)", errno: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > bytesMax { throw SystemError("read \(path)", errno: EFBIG) }
        }
    }

    /// Replaces `path` with `bytes` so that a reader, or a crash at any moment, sees either the
    /// old file or the new one whole: the bytes go to `path.tmp`, are flushed to the disk, the
    /// temporary file is renamed over `path`, and the folder is flushed so the rename lasts.
    /// The temporary file is the process's own (`path.tmp.PID`): two processes replacing one
    /// path (an old coordinator's last write during a reload) never mix their bytes.
    public static func replace(_ path: String, with bytes: [UInt8]) throws(SystemError) {
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open \(temporary)", errno: errno) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let error = SystemError("write \(temporary)", errno: errno)
                Glibc.close(fd)
                unlink(temporary)
                throw error
            }
            offset += written
        }
        if fsync(fd) != 0 {
            let error = SystemError("fsync \(temporary)", errno: errno)
            Glibc.close(fd)
            unlink(temporary)
            throw error
        }
        Glibc.close(fd)
        guard rename(temporary, path) == 0 else {
            let error = SystemError("rename \(temporary)", errno: errno)
            unlink(temporary)
            throw error
        }
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let folderFD = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folderFD >= 0 else { throw SystemError("open \(folder)", errno: errno) }
        defer { Glibc.close(folderFD) }
        guard fsync(folderFD) == 0 else { throw SystemError("fsync \(folder)", errno: errno) }
    }

    /// Moves `path` to `base`, or `base-1`, `base-2`, … when that name is taken, never replacing
    /// a file (a corrupt journal kept aside for inspection). Returns the name it took.
    public static func keepAside(_ path: String, as base: String) throws(SystemError) -> String {
        for attempt in 0..<1_000 {
            let name = attempt == 0 ? base : "\(base)-\(attempt)"
            if link(path, name) == 0 {
                unlink(path)
                return name
            }
            guard errno == EEXIST else { throw SystemError("link \(path) \(name)", errno: errno) }
        }
        throw SystemError("link \(path) \(base)", errno: EEXIST)
    }

    /// Opens (creating it, mode 0644) a file to append to: a log. Every write lands at the end,
    /// whole, even when several processes append to the same file.
    /// Whether `path` can be opened for appending (created when missing), without blocking: a
    /// FIFO nobody reads is ENXIO, not a hang. For `check`.
    public static func checkAppendable(_ path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw SystemError("open \(path)", errno: errno) }
        close(fd)
    }

    public static func openForAppending(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("open \(path)", errno: errno) }
        return fd
    }

    public static func close(_ fd: Int32) {
        Glibc.close(fd)
    }

    /// Takes an exclusive lock on `path` (created if missing) and returns its descriptor, held
    /// for as long as it stays open; nil when another process holds it. `flock` locks belong to
    /// the open file: a forked child must close the descriptor, or it holds the lock too.
    public static func lockExclusively(_ path: String) throws(SystemError) -> Int32? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open \(path)", errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            Glibc.close(fd)
            if error == EWOULDBLOCK { return nil }
            throw SystemError("flock \(path)", errno: error)
        }
        return fd
    }

    /// The names in a folder (not `.` and `..`); empty when it does not exist.
    public static func list(_ folder: String) throws(SystemError) -> [String] {
        guard let directory = opendir(folder) else {
            if errno == ENOENT { return [] }
            throw SystemError("opendir \(folder)", errno: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a file; one already gone is no error.
    public static func remove(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink \(path)", errno: errno) }
    }

    /// Creates a folder and its parents (mode 0750) unless they exist.
    public static func makeFolder(_ path: String) throws(SystemError) {
        var prefix = ""
        for (position, part) in path.split(separator: "/", omittingEmptySubsequences: false).enumerated() {
            if position > 0 { prefix += "/" }
            prefix += part
            if part.isEmpty { continue }
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST { throw SystemError("mkdir \(prefix)", errno: errno) }
        }
    }
}
