import Hummingbird

extension Operations {
    /// /scim/v2/Users, ServiceProviderConfig, ResourceTypes, Schemas. (Being written.)
    func addSCIMRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {}
}
