// json-server's data, held in memory (a write does not rewrite a file): PLATFORM_DB names the
// JSON file it starts from.
module.exports = () => JSON.parse(require("fs").readFileSync(process.env.PLATFORM_DB, "utf8"));
