// What a real platform API adds to json-server: a bearer token (PLATFORM_TOKEN), the time each
// record last changed (`updated_at`, stamped on every write), a log of every request
// (PLATFORM_LOG, one JSON line each), and faults a test asks for by POST /__faults:
//   {"status": 429, "count": 3, "retry_after": 1, "method": "POST"}  the next 3 POSTs answer 429
//   {"drop_id": 1}                                                    the next create answers without its id
//   {"keep_stamp": 1}                                                 the next write keeps the `updated_at` it sends
const fs = require("fs");

let faults = {};

module.exports = (req, res, next) => {
  if (req.path === "/__faults") {
    faults = { ...req.body };
    return res.json(faults);
  }
  if (process.env.PLATFORM_LOG) {
    fs.appendFileSync(process.env.PLATFORM_LOG, JSON.stringify({ method: req.method, url: req.originalUrl }) + "\n");
  }
  const token = process.env.PLATFORM_TOKEN;
  if (token && req.headers.authorization !== `Bearer ${token}`) {
    return res.status(401).json({ error: "invalid or missing token" });
  }
  if (faults.count > 0 && (!faults.method || faults.method === req.method)) {
    faults.count -= 1;
    if (faults.retry_after !== undefined) res.set("Retry-After", String(faults.retry_after));
    return res.status(faults.status || 429).json({ error: "too many requests" });
  }
  if (["POST", "PUT", "PATCH"].includes(req.method) && req.body && typeof req.body === "object") {
    if (faults.keep_stamp > 0) faults.keep_stamp -= 1;
    else req.body.updated_at = new Date().toISOString();
    if (req.method === "POST" && faults.drop_id > 0) {
      faults.drop_id -= 1;
      const send = res.jsonp.bind(res);
      res.jsonp = (body) => {
        const { id, ...rest } = body;
        return send(rest);
      };
    }
  }
  next();
};
