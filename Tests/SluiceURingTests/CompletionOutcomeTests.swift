import Glibc
import SluiceURing
import Testing

/// Every errno a worker's completion can carry lands in one of the outcomes its handlers act on.
struct CompletionOutcomeTests {
    func outcome(_ result: Int32) -> CompletionOutcome {
        Completion(userData: 0, result: result, flags: 0).outcome
    }

    @Test func triage() {
        #expect(outcome(0) == .done(0))
        #expect(outcome(4096) == .done(4096))
        #expect(outcome(-EINTR) == .retry)
        #expect(outcome(-EAGAIN) == .retry)
        #expect(outcome(-ENOBUFS) == .noBuffers)
        #expect(outcome(-ECANCELED) == .canceled)
        #expect(outcome(-ETIME) == .canceled)
        #expect(outcome(-EMFILE) == .outOfDescriptors)
        #expect(outcome(-ENFILE) == .outOfDescriptors)
        #expect(outcome(-ECONNRESET) == .failed(ECONNRESET))
        #expect(outcome(-EPIPE) == .failed(EPIPE))
        #expect(outcome(-ECONNREFUSED) == .failed(ECONNREFUSED))
    }
}
