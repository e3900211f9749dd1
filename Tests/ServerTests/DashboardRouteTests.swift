import Foundation
import ResmonAPI
import ResmonTestSupport
import Testing

@testable import Server

/// The dashboard's routes (docs/DASHBOARD.md): embedded files with their types, a strict
/// Content-Security-Policy, revalidation by ETag, and Chart.js read from libjs-chart.js.
@Suite struct DashboardRouteTests {
    static let policy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

    @Test(arguments: [
        ("/", "text/html; charset=utf-8"), ("/dashboard/dashboard.css", "text/css; charset=utf-8"),
        ("/dashboard/dashboard.js", "text/javascript; charset=utf-8"), ("/dashboard/charts.js", "text/javascript; charset=utf-8"),
        ("/dashboard/views.js", "text/javascript; charset=utf-8")
    ])
    func eachFileIsServedWithItsTypeAndTheSecurityHeaders(path: String, type: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", path)
        #expect(answer.status == 200 && answer.contentType == type, "\(path): \(answer.status) \(answer.contentType)")
        #expect(answer.text.count > 100)
        #expect(answer.header("Content-Security-Policy")?.hasPrefix(Self.policy) == true, "\(answer.headers)")
        #expect(answer.header("X-Content-Type-Options") == "nosniff")
        #expect(answer.header("Set-Cookie") == nil)
        let etag = try #require(answer.header("ETag"))
        let again = rig.send("GET", path, headers: ["if-none-match": etag])
        #expect(again.status == 304 && again.text.isEmpty && again.header("ETag") == etag)
        #expect(rig.send("GET", path, headers: ["if-none-match": "\"0000000000000000\""]).status == 200)
        #expect(rig.send("HEAD", path, transport: .tcp).status == 200)
    }

    @Test func otherPathsMethodsAndQueriesAreRefusedAsTheAPIRefusesThem() throws {
        let rig = try RouterRig()
        let missing = rig.send("GET", "/dashboard/nope.js")
        #expect(missing.isError(404, .notFound) && missing.error?.message.contains("/dashboard/nope.js") == true, "\(missing)")
        #expect(rig.send("POST", "/", transport: .tcp).isError(405, .methodNotAllowed))
        #expect(rig.send("GET", "/", query: [("token", "x")]).isError(400, .badRequest))
        #expect(rig.send("GET", "/index.html").isError(404, .notFound))
    }

    @Test func chartJSComesFromTheConfiguredFileOrA404SayingWhatToInstall() throws {
        let directory = TemporaryDirectory("resmon-chartjs")
        try directory.write("chart.min.js", "/* Chart.js stand-in */ window.Chart = function () {};\n")
        var context = try RouterRig().router.context
        context.chartLibraryPath = directory.file("chart.min.js")
        let present = Answer(APIRouter(context: context).handle(HTTPRequest(method: "GET", path: "/dashboard/chart.js")))
        #expect(present.status == 200 && present.contentType == "text/javascript; charset=utf-8", "\(present)")
        #expect(present.text.contains("Chart.js stand-in") && present.header("ETag") != nil)

        context.chartLibraryPath = directory.file("absent.js")
        let absent = Answer(APIRouter(context: context).handle(HTTPRequest(method: "GET", path: "/dashboard/chart.js")))
        #expect(absent.status == 404 && absent.text.contains("libjs-chart.js") && absent.text.contains("absent.js"), "\(absent)")
    }

    /// Markup from resmond's data must never be parsed: no inline script or style (the policy
    /// forbids them anyway) and no API that parses HTML in the page's code.
    @Test func thePageHasNoInlineCodeAndNeverParsesMarkup() throws {
        let rig = try RouterRig()
        let page = rig.send("GET", "/").text
        #expect(!page.contains("<script>") && !page.contains("<style") && !page.contains("style="))
        #expect(page.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil)
        for path in ["/dashboard/dashboard.js", "/dashboard/charts.js", "/dashboard/views.js"] {
            let code = rig.send("GET", path).text
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                #expect(!code.contains(sink), "\(path) uses \(sink)")
            }
        }
    }
}
