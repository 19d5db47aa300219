import Foundation
import Hummingbird

extension TenureAPI {
    /// The OpenAPI 3.1 document of this API (Resources/openapi.json), at /openapi.json.
    static let openAPIDocument: Data? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? Data(contentsOf: $0) }

    func addOpenAPIRoute(to router: Router<TenureRequestContext>) {
        router.get("/openapi.json") { _, _ in
            guard let document = Self.openAPIDocument else {
                throw Problem.notFound("the OpenAPI document is not bundled with this build")
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: document))
            )
        }
    }
}
