// The Lambda proxy event and response: see LambdaEvent.swift and FunctionResponse.swift.
