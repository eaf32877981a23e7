import SluiceURing
import Testing

/// The system services configuration loading is handed: no fork, no ring, only blocking calls.
struct SystemServicesTests {
    @Test func theSystemResolverAnswersNumericAddresses() throws {
        let addresses = try SystemServices.resolve("localhost").get()
        #expect(!addresses.isEmpty)
        #expect(addresses.allSatisfy { $0.host == "127.0.0.1" || $0.host == "::1" })
        if case .success = SystemServices.resolve("no-such-host.invalid") { Issue.record("an .invalid name resolved") }
    }

    @Test func cpuLists() {
        #expect(SystemServices.parseCPUList("0-3,6") == [0, 1, 2, 3, 6])
        #expect(SystemServices.parseCPUList("\t1\n") == [1])
        #expect(SystemServices.parseCPUList("3-1") == nil)
        #expect(SystemServices.parseCPUList("a") == nil)
        #expect(!SystemServices.allowedCPUs().isEmpty)
    }

    @Test func readingFiles() {
        guard case .failure(let message) = SystemServices.readFile("/nonexistent/file", bytesMax: 10) else {
            Issue.record("read a file that does not exist")
            return
        }
        #expect(message.message == "No such file or directory")
        guard case .failure(let large) = SystemServices.readFile("/proc/self/status", bytesMax: 10) else {
            Issue.record("read past the limit")
            return
        }
        #expect(large.message.contains("larger than"))
    }
}
