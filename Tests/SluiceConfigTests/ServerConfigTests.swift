import SluiceConfig
import SluiceHTTP1
import Testing

@Suite struct ServerSettingsTests {
    @Test func defaults() throws {
        let result = loadConfig("""
            apis:
              - name: a
                definition: a.yaml
                stages: { prod: {} }
            """, definitions: ["a.yaml": "openapi: 3.0.1\npaths: {}\n"])
        let deployment = try #require(result.deployment)
        #expect(deployment.listen == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(deployment.admin == ListenAddress(host: "127.0.0.1", port: 9901))
        #expect(deployment.stateDirectory == "/var/lib/sluice")
        #expect(deployment.drainTimeoutMilliseconds == 10_000)
        #expect(deployment.limits == Limits())
        #expect(deployment.limits.request == RequestLimits(headBytesMax: 10_240, headersMax: 100, bodyBytesMax: 10_485_760))
        #expect(deployment.limits.headerTimeoutMilliseconds == 10_000)
        #expect(deployment.limits.idleTimeoutMilliseconds == 60_000)
        #expect(deployment.workers.slots == testCPUs.map { WorkerTuning(cpu: $0) })
    }

    @Test func adminCannotShareTheGatewaysPort() {
        for (listen, admin) in [("127.0.0.1:8080", "127.0.0.1:8080"), ("0.0.0.0:8080", "127.0.0.1:8080"),
                                ("127.0.0.1:8080", ":8080")] {
            let result = loadConfig("""
                listen: "\(listen)"
                admin: "\(admin)"
                """)
            #expect(result.errors.map(\.description).contains { $0.hasPrefix("sluice.yaml:2: error: admin ")
                && $0.hasSuffix("give the admin listener a port of its own") }, "\(listen) \(admin)")
        }
        // Another port, or another host: fine.
        for (listen, admin) in [("127.0.0.1:8080", "127.0.0.1:9901"), ("127.0.0.1:8080", "127.0.0.2:8080")] {
            let result = loadConfig("""
                listen: "\(listen)"
                admin: "\(admin)"
                """)
            #expect(result.errors.isEmpty, "\(listen) \(admin)")
        }
    }

    @Test func everySettingIsRead() throws {
        let result = loadConfig("""
            listen: "127.0.0.1:0"
            admin: "[::1]:9902"
            state_dir: /tmp/sluice-state
            drain_timeout_ms: 2_500
            drain_delay_ms: 5000
            limits:
              request_head_bytes: 8192
              request_headers: 50
              request_body_bytes: 1048576
              header_timeout_ms: 3000
              idle_timeout_ms: 5000
            """)
        let deployment = try #require(result.deployment)
        #expect(deployment.listen == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(deployment.admin == ListenAddress(host: "::1", port: 9902, isIPv6: true))
        #expect(deployment.stateDirectory == "/tmp/sluice-state")
        #expect(deployment.drainTimeoutMilliseconds == 2_500)
        #expect(deployment.drainDelayMilliseconds == 5000)
        #expect(deployment.limits.request == RequestLimits(headBytesMax: 8192, headersMax: 50, bodyBytesMax: 1_048_576))
        #expect(deployment.limits.headerTimeoutMilliseconds == 3000)
        #expect(deployment.limits.idleTimeoutMilliseconds == 5000)
        // The only diagnostic: there is no API.
        #expect(result.lines == ["sluice.yaml:1: warning: no APIs are configured; every request answers 403"])
    }

    @Test(arguments: [
        ("0.0.0.0:8080", ListenAddress(host: "0.0.0.0", port: 8080)),
        ("127.0.0.1:0", ListenAddress(host: "127.0.0.1", port: 0)),
        ("[::]:8080", ListenAddress(host: "::", port: 8080, isIPv6: true)),
        ("[::1]:65535", ListenAddress(host: "::1", port: 65535, isIPv6: true)),
        (":9000", ListenAddress(host: "0.0.0.0", port: 9000)),
        ("9000", ListenAddress(host: "0.0.0.0", port: 9000)),
        ("localhost:80", ListenAddress(host: "127.0.0.1", port: 80)),
    ])
    func listenAddresses(_ text: String, _ expected: ListenAddress) throws {
        #expect(try ListenAddress.parse(text).get() == expected)
    }

    @Test(arguments: ["", "0.0.0.0", "0.0.0.0:", "0.0.0.0:65536", "0.0.0.0:-1", ":::8080", "[::1]8080", "[::1:80",
                      "[1.2.3.4]:80", "example.com:80", "256.0.0.1:80", "0.0.0.0:80x"])
    func invalidListenAddresses(_ text: String) {
        #expect(throws: ListenAddressError.self) { try ListenAddress.parse(text).get() }
    }

    @Test func listenAddressDescription() {
        #expect(ListenAddress(host: "::", port: 8080, isIPv6: true).description == "[::]:8080")
        #expect(ListenAddress(host: "0.0.0.0", port: 80).description == "0.0.0.0:80")
    }

    @Test func invalidValuesAreErrorsAtTheirLines() {
        let result = loadConfig("""
            listen: "0.0.0.0:99999"
            admin: 127.0.0.1
            drain_timeout_ms: soon
            limits:
              request_head_bytes: 100
              idle_timeout_ms: -5
              request_headers: [1]
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "sluice.yaml:1: error: listen: '0.0.0.0:99999': the port must be a number between 0 and 65535",
            "sluice.yaml:1: warning: no APIs are configured; every request answers 403",
            "sluice.yaml:2: error: admin: '127.0.0.1': the port must be a number between 0 and 65535",
            "sluice.yaml:3: error: drain_timeout_ms must be an integer between 0 and 3600000 ms, not 'soon'",
            "sluice.yaml:5: error: limits.request_head_bytes must be between 1024 and 1048576 bytes, not 100",
            "sluice.yaml:6: error: limits.idle_timeout_ms must be between 1 and 3600000 ms, not -5",
            "sluice.yaml:7: error: limits.request_headers must be an integer between 1 and 10000, not 'a list'",
        ])
    }

    @Test func unknownKeysAreErrorsEverywhere() throws {
        let result = loadConfig("""
            listen: "0.0.0.0:8080"
            lisen: "0.0.0.0:8081"
            limits:
              request_body_byte: 10
            workers:
              count: 1
              cpu: [0]
              defaults:
                ring_entry: 8
            apis:
              - name: a
                definition: a.yaml
                stage_name: prod
                stages:
                  prod:
                    varaibles: {}
            """, definitions: ["a.yaml": "openapi: 3.0.1\npaths: {}\n"])
        // A misspelt key would leave a default in force that the user believes they changed.
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "sluice.yaml:2: error: unknown key 'lisen'",
            "sluice.yaml:4: error: unknown key 'request_body_byte' in limits",
            "sluice.yaml:7: error: unknown key 'cpu' in workers",
            "sluice.yaml:9: error: unknown key 'ring_entry' in workers.defaults",
            "sluice.yaml:13: error: unknown key 'stage_name' in an API",
            "sluice.yaml:16: error: unknown key 'varaibles' in stage 'prod'",
            "a.yaml:2: warning: 'paths' is empty; the API has no routes",
        ])
    }

    @Test func aStageCacheIsAccepted() throws {
        let result = loadConfig("""
            apis:
              - name: petstore
                definition: a.yaml
                stages:
                  prod:
                    variables: { backend: "127.0.0.1:18001" }
                    cache: { enabled: true, capacity_mb: 64, ttl_seconds: 300 }
            """, definitions: ["a.yaml": "openapi: 3.0.1\npaths: {}\n"])
        let deployment = try #require(result.deployment)
        #expect(deployment.stages.first?.variables == ["backend": "127.0.0.1:18001"])
        #expect(result.lines == [
            "a.yaml:2: warning: 'paths' is empty; the API has no routes",
        ])
    }

    @Test func yamlSyntaxErrorHasItsLine() {
        let result = loadConfig("""
            listen: "0.0.0.0:8080"
            limits:
              request_headers: 10
             header_timeout_ms: 5
            """)
        #expect(result.deployment == nil)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.line == 4)
        #expect(result.diagnostics.first?.severity == .error)
    }

    @Test func duplicateKeyIsReportedAtItsSecondUse() {
        let result = loadConfig("""
            listen: "0.0.0.0:8080"
            admin: "127.0.0.1:9901"
            listen: "0.0.0.0:8081"
            """)
        #expect(result.lines == ["sluice.yaml:3: error: duplicate key 'listen' (first at line 1)"])
    }

    @Test func unreadableFiles() {
        let missing = ConfigLoader.load(path: "/nonexistent/sluice.yaml", environment: testDisk)
        #expect(missing.lines == [
            "/nonexistent/sluice.yaml:0: error: cannot read the configuration: No such file or directory",
        ])
        let result = loadConfig("""
            apis:
              - name: a
                definition: missing.yaml
                stages: { prod: {} }
            """)
        #expect(result.lines == ["sluice.yaml:3: error: cannot read API definition 'missing.yaml': no such file"])
    }

    @Test func configurationMustBeAMapping() {
        #expect(loadConfig("- a\n- b\n").lines == ["sluice.yaml:1: error: the configuration must be a mapping, not a list"])
        #expect(loadConfig("").lines == ["sluice.yaml:1: error: the file is empty"])
    }

    @Test func diagnosticDescription() {
        #expect(Diagnostic(file: "deploy/a.yaml", line: 12, severity: .error, message: "boom").description
                == "deploy/a.yaml:12: error: boom")
        #expect(Diagnostic(file: "a.json", line: 3, severity: .warning, message: "hm").description
                == "a.json:3: warning: hm")
    }
}

@Suite struct WorkerPlanTests {
    private func plan(_ workers: String, cpus: [Int] = testCPUs) -> LoadResult {
        loadConfig("workers:\n" + workers, cpus: cpus)
    }

    @Test func autoIsOneWorkerPerAllowedCPU() throws {
        let result = plan("  count: auto\n  cpus: auto\n", cpus: [1, 3])
        let slots = try #require(result.deployment?.workers.slots)
        #expect(slots.map(\.cpu) == [1, 3])
        #expect(slots.allSatisfy { $0 == WorkerTuning(cpu: $0.cpu) })
    }

    @Test func countWrapsAroundTheCPUs() throws {
        let result = plan("  count: 5\n", cpus: [0, 1])
        #expect(try #require(result.deployment).workers.slots.map(\.cpu) == [0, 1, 0, 1, 0])
    }

    @Test func explicitCPUs() throws {
        let result = plan("  cpus: [2, 0]\n")
        #expect(try #require(result.deployment).workers.slots.map(\.cpu) == [2, 0])
        let counted = plan("  count: 3\n  cpus: [3]\n")
        #expect(try #require(counted.deployment).workers.slots.map(\.cpu) == [3, 3, 3])
    }

    @Test func defaultsAndPerCPUOverrides() throws {
        let result = plan("""
              count: 3
              cpus: [0, 1]
              defaults: { ring_entries: 1024, recv_buffers: 512, recv_buffer_bytes: 8192, max_connections: 1000 }
              per_cpu:
                "1": { ring_entries: 8192 }
                0: { max_connections: 10 }
            """)
        let slots = try #require(result.deployment).workers.slots
        #expect(slots == [
            WorkerTuning(cpu: 0, ringEntries: 1024, recvBuffers: 512, recvBufferBytes: 8192, maxConnections: 10),
            WorkerTuning(cpu: 1, ringEntries: 8192, recvBuffers: 512, recvBufferBytes: 8192, maxConnections: 1000),
            WorkerTuning(cpu: 0, ringEntries: 1024, recvBuffers: 512, recvBufferBytes: 8192, maxConnections: 10),
        ])
    }

    @Test func invalidValuesAreErrorsAtTheirLines() {
        let result = plan("""
              count: 0
              cpus: [0, 7]
              defaults:
                ring_entries: 1000
                recv_buffers: 65536
                recv_buffer_bytes: 100
                max_connections: 2000000
              per_cpu:
                x: { ring_entries: 8 }
                "0": { ring_entries: 4 }
            """)
        #expect(result.deployment == nil)
        #expect(result.lines == [
            "sluice.yaml:1: warning: no APIs are configured; every request answers 403",
            "sluice.yaml:2: error: workers.count must be between 1 and 1024, not 0",
            "sluice.yaml:3: error: CPU 7 is not available to this process (allowed: 0-3)",
            "sluice.yaml:5: error: workers.defaults.ring_entries must be a power of two between 8 and 32768, not 1000",
            "sluice.yaml:6: error: workers.defaults.recv_buffers must be between 1 and 32768, not 65536",
            "sluice.yaml:7: error: workers.defaults.recv_buffer_bytes must be between 512 and 1048576 bytes, not 100",
            "sluice.yaml:8: error: workers.defaults.max_connections must be between 1 and 1048576, not 2000000",
            "sluice.yaml:10: error: workers.per_cpu keys must be CPU numbers, not 'x'",
            "sluice.yaml:11: error: workers.per_cpu.0.ring_entries must be between 8 and 32768, not 4",
        ])
    }

    @Test func perCPUForAnUnusedCPUIsWarned() throws {
        let result = plan("  cpus: [0]\n  per_cpu:\n    \"2\": { ring_entries: 16 }\n")
        #expect(result.deployment != nil)
        #expect(result.lines.contains(
            "sluice.yaml:4: warning: workers.per_cpu.2 applies to no worker (workers run on CPUs 0)"))
    }
}
