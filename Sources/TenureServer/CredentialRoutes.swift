import Hummingbird

extension Operations {
    /// POST /v1/credentials/{name}/checkout and /checkin. (Being written.)
    func addCredentialRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {}
}
