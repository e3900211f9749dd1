import Foundation
import ResmonTestSupport
import Testing

@testable import Server

/// docs/openapi.yaml against the router: the same routes, methods and query parameters both
/// ways, and the JSON resmond serves is the YAML's (`make openapi`).
@Suite struct OpenAPIDocumentTests {
    static let methods: Set = ["get", "head", "post", "put", "patch", "delete", "options", "trace"]

    /// "METHOD path" → the query parameters the document gives that operation.
    static func documentOperations() throws -> [String: Set<String>] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(PackageResources.openapi_json)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let components = (document["components"] as? [String: Any])?["parameters"] as? [String: [String: Any]] ?? [:]
        func queryNames(_ list: Any?) -> Set<String> {
            var names = Set<String>()
            for case let parameter as [String: Any] in (list as? [Any]) ?? [] {
                let resolved = (parameter["$ref"] as? String).flatMap { components[String($0.split(separator: "/").last ?? "")] } ?? parameter
                if resolved["in"] as? String == "query", let name = resolved["name"] as? String { names.insert(name) }
            }
            return names
        }
        var operations: [String: Set<String>] = [:]
        for (path, item) in paths {
            let shared = queryNames(item["parameters"])
            for (method, operation) in item where methods.contains(method) {
                operations[method.uppercased() + " " + path] = shared.union(queryNames((operation as? [String: Any])?["parameters"]))
            }
        }
        return operations
    }

    /// "METHOD path" → the query parameters the router accepts (a route that does not look at
    /// its query documents none).
    static func routerOperations() -> [String: Set<String>] {
        var operations: [String: Set<String>] = [:]
        for route in APIRoute.table {
            for operation in route.operations { operations[operation.method + " " + route.path] = operation.query ?? [] }
        }
        return operations
    }

    @Test func theRouterAndTheDocumentListTheSameRoutesAndParameters() throws {
        let document = try Self.documentOperations()
        let router = Self.routerOperations()
        let undocumented = Set(router.keys).subtracting(document.keys).sorted()
        let unserved = Set(document.keys).subtracting(router.keys).sorted()
        #expect(undocumented.isEmpty, "served but not in docs/openapi.yaml: \(undocumented)")
        #expect(unserved.isEmpty, "in docs/openapi.yaml but not served: \(unserved)")
        for (operation, names) in router.sorted(by: { $0.key < $1.key }) {
            guard let documented = document[operation] else { continue }
            #expect(documented == names, "\(operation): the router accepts \(names.sorted()), the document lists \(documented.sorted())")
        }
        #expect(router.count > 40, "\(router.count) operations")
    }

    @Test func eachRouteOfTheTableIsTheOneItsPathFinds() throws {
        for route in APIRoute.table {
            let concrete = route.path.replacingOccurrences(of: "{key}", with: "net:eth0:receive_bytes_total")
                .replacingOccurrences(of: "{id}", with: "m1").replacingOccurrences(of: "{file}", with: "views.js")
            let found = try #require(APIRoute.find(concrete), "\(concrete)")
            #expect(found.route.path == route.path, "\(concrete) found \(found.route.path)")
        }
        #expect(APIRoute.find("/v1/history/fs:/home:used_ratio/rrdtool.xml")?.value == "fs:/home:used_ratio")
        #expect(APIRoute.find("/v1/statistics/fs:/home:used_ratio")?.value == "fs:/home:used_ratio")
        #expect(APIRoute.find("/v1/monitors/")?.route.path == "/v1/monitors")
        #expect(APIRoute.find("/v1/monitors/a/b/c") == nil)
        #expect(APIRoute.find("/v1/monitors/a/frobnicate") == nil)
    }

    @Test func theServedJSONIsTheYAMLAsToolsOpenAPIJSONWritesIt() throws {
        let root = Products.packageRoot()
        let result = try Products.run("/usr/bin/python3", [root + "/tools/openapi_json.py", root + "/docs/openapi.yaml"], timeout: 60)
        try #require(result.status == 0, "tools/openapi_json.py failed (make test-deps installs python3-yaml): \(result.error)")
        let same = Array(result.output.utf8) == PackageResources.openapi_json
        #expect(
            same,
            "Sources/Server/OpenAPI/openapi.json is not docs/openapi.yaml's JSON: run `make openapi`")
    }

    /// A YAML flow mapping with a comma in an unquoted value (`{description: Too costly, or …}`)
    /// parses as two members, the second a key with a null value: schemathesis and the router
    /// test do not see it. No member of the document is null, and every response has only
    /// the members OpenAPI gives one.
    @Test func noMemberIsNullAndEveryResponseIsWellFormed() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(PackageResources.openapi_json)) as? [String: Any])
        var nulls: [String] = []
        func walk(_ value: Any, _ path: String) {
            if let object = value as? [String: Any] {
                for (key, member) in object { walk(member, path + "/" + key) }
            } else if let array = value as? [Any] {
                for (index, member) in array.enumerated() { walk(member, path + "/\(index)") }
            } else if value is NSNull {
                nulls.append(path)
            }
        }
        walk(document, "")
        #expect(nulls.isEmpty, "null members (an unquoted comma in docs/openapi.yaml?): \(nulls)")
        let allowed: Set = ["description", "content", "headers", "links", "$ref"]
        var malformed: [String] = []
        for (path, item) in try #require(document["paths"] as? [String: [String: Any]]) {
            for (method, operation) in item where Self.methods.contains(method) {
                let responses = try #require((operation as? [String: Any])?["responses"] as? [String: Any])
                for (code, response) in responses {
                    let members = Set((response as? [String: Any])?.keys.map { $0 } ?? [])
                    let described = members.contains("$ref") || ((response as? [String: Any])?["description"] is String)
                    if !members.isSubset(of: allowed) || !described { malformed.append("\(method) \(path) \(code): \(members.sorted())") }
                }
            }
        }
        #expect(malformed.isEmpty, "\(malformed)")
    }

    @Test func getOpenAPIJSONAnswersTheDocument() throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/v1/openapi.json")
        #expect(answer.status == 200 && answer.contentType == "application/json", "\(answer.status) \(answer.contentType)")
        let document = try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? [String: Any]
        #expect((document?["openapi"] as? String)?.hasPrefix("3.") == true)
        #expect(rig.send("GET", "/v1/openapi.json", query: [("x", "1")]).isError(400, .badRequest))
        #expect(rig.send("POST", "/v1/openapi.json").isError(405, .methodNotAllowed))
    }
}
