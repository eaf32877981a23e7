import SluiceConfig
@testable import SluiceSupervisor
import Testing

@Suite("Deployment records and stage changes: written and read back")
struct DeploymentHistoryTests {
    static let record = DeploymentRecord(
        id: "abc123", createdEpochSeconds: 1_764_000_000, sha256: String(repeating: "0f", count: 32),
        description: "POST /admin/reload\twith\ttabs", inputs: [("conf/sluice.yaml", "apis: []\n"),
                                                              ("conf/odd\tname%.yaml", "a\nb\n\nc é\r\n")],
        definitions: [("shop", "conf/odd\tname%.yaml")])

    @Test func aRecordReadsBackWhole() throws {
        let decoded = try #require(DeploymentHistory.decode(DeploymentHistory.encode(Self.record)))
        #expect(decoded.id == "abc123" && decoded.createdEpochSeconds == 1_764_000_000)
        #expect(decoded.description == Self.record.description && decoded.sha256 == Self.record.sha256)
        #expect(decoded.inputs.map(\.path) == Self.record.inputs.map(\.path))
        #expect(decoded.inputs.map(\.text) == Self.record.inputs.map(\.text))
        #expect(decoded.definition(api: "shop") == DefinitionSource(deploymentID: "abc123", path: "conf/odd\tname%.yaml",
                                                                    text: "a\nb\n\nc é\r\n"))
        #expect(decoded.definition(api: "other") == nil)
    }

    @Test func aDamagedRecordIsRefused() {
        let bytes = DeploymentHistory.encode(Self.record)
        #expect(DeploymentHistory.decode(Array(bytes.dropLast(5))) == nil)
        #expect(DeploymentHistory.decode(Array("sluice-deployment 1\nfile\tx\t999\nab\nend\n".utf8)) == nil)
        #expect(DeploymentHistory.decode(Array("other 1\nend\n".utf8)) == nil)
        #expect(DeploymentHistory.decode(Array("sluice-deployment 1\nid\tabc123\nfile\tx\t9223372036854775807\nend\n".utf8)) == nil)
        #expect(DeploymentHistory.decode(Array("sluice-deployment 1\nid\t../../x\nend\n".utf8)) == nil)
        #expect(DeploymentHistory.decode([]) == nil)
    }

    @Test func theHistoryKeepsTheLastAndMovesARedeployedOneToTheEnd() {
        let history = DeploymentHistory(folder: nil, keep: 2)
        for id in ["aaaaaa", "bbbbbb", "aaaaaa", "cccccc"] {
            var deployment = Deployment()
            deployment.id = id
            #expect(history.add(deployment, inputs: [], description: "test") == nil)
        }
        #expect(history.records.map(\.id) == ["aaaaaa", "cccccc"])
        #expect(history.record(before: "cccccc")?.id == "aaaaaa" && history.record(before: "aaaaaa") == nil)
    }

    @Test func stageChangesReadBackAgainstTheHistory() throws {
        let history = DeploymentHistory(folder: nil, keep: 5)
        var deployment = Deployment()
        deployment.id = "abc123"
        deployment.definitionFiles = ["shop": "v1.yaml"]
        _ = history.add(deployment, inputs: [("sluice.yaml", "x"), ("v1.yaml", "one")], description: "start")
        let source = try #require(history.record(id: "abc123")?.definition(api: "shop"))
        var changes = StageChanges(base: "zzz999")
        changes = changes.replacing(StageOverride(api: "shop", stage: "prod", definition: source, variables: ["a": "b\tc"]))
        changes = changes.replacing(StageOverride(api: "shop", stage: "dev", canary: .set(CanaryRelease(
            source: source, definitionPath: "v1.yaml", percentTraffic: 33.3, stageVariableOverrides: ["k": "v"],
            useStageCache: true))))
        changes = changes.replacing(StageOverride(api: "shop", stage: "qa", canary: .removed))
        changes = changes.replacing(StageOverride(api: "shop", stage: "qa"))  // nothing left: forgotten
        let decoded = try #require(StageChanges.decode(StageChanges.encode(changes), history: history))
        #expect(decoded.base == "zzz999")
        #expect(decoded.overrides == changes.overrides)
        #expect(decoded.overrides.count == 2)
        // A deployment no longer recorded: the file is not trusted.
        #expect(StageChanges.decode(StageChanges.encode(changes), history: DeploymentHistory(folder: nil, keep: 1)) == nil)
    }

    @Test func escapingRoundTrips() {
        for text in ["%09\t%\n", "a\r\nb", "%0A\u{301}", "%", "%2", "plain é"] {
            let escaped = DeploymentHistory.escaped(text)
            #expect(!escaped.unicodeScalars.contains { $0 == "\t" || $0 == "\n" || $0 == "\r" })
            #expect(DeploymentHistory.unescaped(escaped) == text)
        }
    }
}
