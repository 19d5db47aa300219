import Hummingbird

extension Operations {
    /// POST/GET /v1/activations, approve, deny, DELETE; and the expiry sweeper. (Being written.)
    func addActivationRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {}
}
